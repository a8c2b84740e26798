"""A sweep under organisms that fail or owners that die: it never stalls and never trains an organism twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bestiary.organisms import claims
from bestiary.organisms import staging as S
from bestiary.organisms.sweepdir import SweepDir
from bestiary.sweep import plan, run_sweep
from bestiary.sweep_spec import parse_sweep

SPEC = """\
name: {name}
environments:
  - id: bestiary/OffSwitch-v0
scale:
  widths: [3]
  timesteps: {{min: 1024, max: 2048, rungs: 2}}
seeds: 1
trainer: sb3
hyperparameters: {{n_steps: 32}}
evaluation: {{episodes: 16, probes: 20}}
executor: {{kind: local, workers: 1}}
retries: 0
{extra}
"""


def test_a_seal_that_cannot_be_made_is_recorded_and_the_sweep_goes_on(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = "import sys; sys.exit(3)"  # every organism fails: nothing to forecast from
    monkeypatch.setattr(S, "worker_command", lambda unit, unit_dir: (sys.executable, "-c", failing, str(unit_dir)))
    # Three widths: the seal's organisms could support a trend (the plan refuses a seal that could not).
    text = SPEC.format(name="noseal", extra="forecast: {timesteps: 1024}").replace("widths: [3]", "widths: [3, 4, 5]")
    events: list[tuple[str, object]] = []
    report = run_sweep(parse_sweep(text), text, workdir / "runs", lambda k, p, d: events.append((k, d)))
    assert report.failed == 6 and report.done == 0
    refused = [d for k, d in events if k == "seal_failed"]
    assert len(refused) == 1 and "no finished organism" in str(refused[0])
    sweep_dir = SweepDir(workdir / "runs" / "noseal")
    assert not sweep_dir.forecast.exists()
    log = [json.loads(line) for line in sweep_dir.forecast_log.read_text().splitlines()]
    assert len(log) == 1 and "no finished organism" in log[0]["refused"]


def test_a_waiting_sweep_takes_over_the_trial_of_an_owner_that_died(workdir: Path) -> None:
    text = SPEC.format(name="orphan", extra="")
    sweep = parse_sweep(text)
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        target = plan(sweep, workdir / "runs")[0].run_dir.path
        target.mkdir(parents=True)
        info = {"host": claims.HOST, "boot": claims.BOOT, "pid": owner.pid, "start": claims._start_time(owner.pid),
                "nonce": "theirs"}  # fmt: skip
        (target / "claim.json").write_text(json.dumps(info))
        threading.Timer(3.0, owner.kill).start()  # the owning sweep is killed with -9 while this one waits
        start = time.monotonic()
        report = run_sweep(sweep, text, workdir / "runs")
    finally:
        owner.kill()
        owner.wait()
    assert report.done == 2 and report.failed == 0 and report.waited == 0, report
    assert time.monotonic() - start < 300
    status = json.loads((target / "status.json").read_text())
    assert status["state"] == "done" and status["attempts"] == 1  # trained once, by this sweep
    assert not (target / "claim.json").exists() and os.path.exists(target / "audit.jsonl")


CONCURRENT = """\
name: two
environments:
  - id: bestiary/OffSwitch-v0
  - id: bestiary/AuditedReport-v0
scale:
  widths: [3, 5]
  timesteps: {min: 2048, max: 8192, rungs: 2}
seeds: 2
trainer: population
hyperparameters: {n_steps: 32}
evaluation: {episodes: 16, probes: 20}
executor: {kind: local, workers: 1}
retries: 1
"""


def test_two_sweeps_one_killed_mid_unit_train_every_organism_once(workdir: Path) -> None:
    spec = workdir / "two.yaml"
    spec.write_text(CONCURRENT)
    cli = [sys.executable, "-m", "bestiary.cli", "sweep", str(spec), "--runs", str(workdir / "runs")]
    first = subprocess.Popen(cli, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = subprocess.Popen(cli, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(6)  # both are training units by now
    first.kill()  # kill -9, mid-unit: its claims stay behind, its sandboxes die with it
    first.wait()
    out, _ = second.communicate(timeout=600)
    assert second.returncode == 0, out[-3000:]
    planned = plan(parse_sweep(CONCURRENT), workdir / "runs")
    assert len(planned) == 16
    for p in planned:
        status = json.loads((p.run_dir.path / "status.json").read_text())
        card = json.loads((p.run_dir.path / "card.json").read_text())
        audit = [json.loads(line) for line in (p.run_dir.path / "audit.jsonl").read_text().splitlines()]
        assert status["state"] == "done", (p.trial.trial_id, status)
        assert sum(r["reason"] == "ok" for r in card["runs"]) == 1, card["runs"]  # trained to the end once
        assert any(a.get("verdict") == "ok" for a in audit), audit
        assert not (p.run_dir.path / "claim.json").exists()
