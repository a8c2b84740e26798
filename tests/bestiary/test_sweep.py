"""Sweeps: spec validation, expansion and ids, resume after kill -9, failures recorded and retried, collect."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bestiary.collect import COLUMNS, collect
from bestiary.sweep import expand, plan, run_sweep
from bestiary.sweep_spec import SpecError, parse_sweep

TINY = """\
name: {name}
environments:
  - id: bestiary/OffSwitch-v0
  - id: bestiary/AbsentSupervisor-v0
    grid: {{cue_bands: [3, 5]}}
scale:
  widths: [3, 6]
  timesteps: 2048
seeds: 2
hyperparameters: {{n_steps: 32}}
evaluation: {{episodes: 32, probes: 32}}
executor: {{kind: local, workers: 2}}
retries: 1
"""


def test_errors_name_file_line_and_key() -> None:
    bad = "name: s\nenvironments:\n  - id: bestiary/OffSwitch-v0\n    knobs: {}\nscale:\n  widths: [4]\nseed: 3\n"
    with pytest.raises(SpecError) as info:
        parse_sweep(bad, "study.yaml")
    msg = str(info.value)
    assert "study.yaml:4: `environments.0.knobs`: unknown key; valid keys here: id, kwargs, grid" in msg
    assert "study.yaml:7: `seed`: unknown key; valid keys here: name, environments" in msg


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(SpecError, match=r"s\.yaml:3: not valid YAML"):
        parse_sweep("name: s\nenvironments: {a: 1\nscale: [\n", "s.yaml")


def test_expansion_and_ids() -> None:
    sweep = parse_sweep(TINY.format(name="ids"))
    specs = expand(sweep)
    assert len(specs) == (1 + 2) * 2 * 2  # (OffSwitch + 2 AbsentSupervisor variants) x 2 widths x 2 seeds
    planned = plan(sweep, "/nonexistent-runs")
    ids = [p.trial.trial_id for p in planned]
    assert len(set(ids)) == len(ids)
    assert ids == [p.trial.trial_id for p in plan(sweep, "/nonexistent-runs")]  # stable
    assert {p.trial.env_kwargs.get("cue_bands") for p in planned if "Absent" in p.trial.env_id} == {3, 5}


def test_params_ladder_expansion() -> None:
    sweep = parse_sweep(
        TINY.format(name="ladder").replace("widths: [3, 6]", "params: {min: 300, max: 30000, rungs: 5}")
    )
    widths = sorted({p.trial.width for p in plan(sweep, "/nonexistent") if p.trial.env_id.endswith("OffSwitch-v0")})
    assert len(widths) == 5


def _sweep_cmd(spec: Path, runs: Path) -> list[str]:
    return [sys.executable, "-m", "bestiary.cli", "sweep", str(spec), "--runs", str(runs)]


def _statuses(root: Path) -> dict[str, dict]:
    return {d.name: json.loads((d / "status.json").read_text()) for d in root.iterdir() if (d / "status.json").exists()}


def test_resume_after_kill_9_runs_every_trial_exactly_once(workdir: Path) -> None:
    spec = workdir / "resume.yaml"
    spec.write_text(TINY.format(name="resume"))
    runs = workdir / "runs"
    env = {**os.environ, "COLUMNS": "200"}
    driver = subprocess.Popen(_sweep_cmd(spec, runs), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = runs / "resume"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        done = [s for s in (_statuses(root) if root.exists() else {}).values() if s["state"] == "done"]
        if len(done) >= 3:
            break
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    before = _statuses(root)
    done_before = {k for k, s in before.items() if s["state"] == "done"}
    assert 3 <= len(done_before) < 12, "kill the driver halfway"
    time.sleep(1.0)  # the killed driver's sandboxes die with it (parent-death signal)
    again = subprocess.run(_sweep_cmd(spec, runs), env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    after = _statuses(root)
    assert len(after) == 12 and all(s["state"] == "done" for s in after.values())
    for trial in done_before:  # finished trials were skipped, not re-run
        assert after[trial]["attempts"] == 1 and after[trial]["finished"] == before[trial]["finished"]
    # ... and the results are those of an uninterrupted run of the same sweep: the same episodes counted, the
    # continuous measures to float precision (a resumed sweep regroups the unfinished organisms, and an organism's
    # products round by its place in its population's stack: test_population.py).
    df = collect(root)
    assert df.trial_id.nunique() == 12 and (df.status == "done").all()
    fresh = workdir / "fresh"
    subprocess.run(_sweep_cmd(spec, fresh), env=env, capture_output=True, text=True, timeout=600, check=True)
    for trial in after:
        resumed = json.loads((root / trial / "metrics.json").read_text())
        uninterrupted = json.loads((fresh / "resume" / trial / "metrics.json").read_text())
        for cond, block in resumed["behaviour"].items():
            other = uninterrupted["behaviour"][cond]
            assert (block["episodes"], block["violations"]) == (other["episodes"], other["violations"]), trial
        assert resumed["precursors"] == pytest.approx(uninterrupted["precursors"], rel=1e-4, abs=1e-6), trial


def test_failing_trial_is_recorded_retried_and_the_sweep_goes_on(workdir: Path) -> None:
    text = TINY.format(name="failing").replace("widths: [3, 6]", "widths: [3]").replace("seeds: 2", "seeds: 1")
    # A 1-second wall clock makes every trial time out: each is retried once, then recorded as failed.
    text += "sandbox: {wall_seconds: 1}\n"
    sweep = parse_sweep(text)
    events: list[tuple[str, str]] = []
    report = run_sweep(sweep, text, workdir / "runs", lambda kind, p, detail: events.append((kind, detail)))
    assert report.failed == 3 and report.done == 0
    assert sum(kind == "retry" for kind, _ in events) == 3
    for status in _statuses(workdir / "runs" / "failing").values():
        assert status["state"] == "failed" and status["reason"] == "timeout" and status["attempts"] == 2
    # Partial results are collectable: one status row per failed trial.
    df = collect(workdir / "runs" / "failing")
    assert list(df.columns[: len(COLUMNS)]) == COLUMNS
    assert (df.metric == "status").all() and (df.status == "failed").all() and len(df) == 3
    # Run again: out of retries, nothing re-runs.
    again = run_sweep(sweep, text, workdir / "runs")
    assert again.skipped == 3 and again.done == again.failed == 0


def test_collect_writes_contract_3(workdir: Path) -> None:
    from bestiary.collect import collect_curves, write_results
    from bestiary.organisms.compute import training_flops

    text = TINY.format(name="collect").replace("widths: [3, 6]", "widths: [3]").replace("seeds: 2", "seeds: 1")
    sweep = parse_sweep(text)
    run_sweep(sweep, text, workdir / "runs")
    df = collect(workdir / "runs" / "collect")
    curves = collect_curves(workdir / "runs" / "collect")
    parquet, csv, curves_file = write_results(df, workdir / "results", curves)
    back = pd.read_parquet(parquet)
    assert list(back.columns[: len(COLUMNS)]) == COLUMNS and len(back) == len(df)
    rates = back[back.metric == "violation_rate"]
    assert set(rates.condition) == {"on", "off"} and (rates.trials == 32).all()
    assert (rates.successes <= rates.trials).all()
    assert set(back[back.condition == "probe"].metric) >= {
        "logodds_gap", "latent_probe_accuracy", "value_gap", "actor_probe_gain", "critic_probe_projected_init"
    }  # fmt: skip
    assert csv.read_text().startswith(",".join(COLUMNS))
    # The added columns: compute from the formula, the mechanism, and the training curve's diagnostic.
    row = back.iloc[0]
    assert row.compute == training_flops("ppo", int(row.params), int(row.timesteps), {"n_epochs": 4})
    assert row.mechanism == "band_reader" and row.lr_rule == "constant"
    assert set(back[back.condition == "train"].metric) == {"late_return_gain", "converged"}
    worst = back[back.metric == "worst_band_violation"]
    assert set(worst.condition) == {"off"} and (worst.successes <= worst.trials).all()
    assert pd.read_parquet(curves_file).trial_id.nunique() == back.trial_id.nunique()


def test_the_same_trial_in_two_sweeps_is_collected_once(workdir: Path) -> None:
    base = TINY.format(name="a").replace("widths: [3, 6]", "widths: [3]").replace("seeds: 2", "seeds: 1")
    for name in ("a", "b"):
        text = base.replace("name: a", f"name: {name}")
        run_sweep(parse_sweep(text), text, workdir / "runs")
    df = collect(workdir / "runs")
    assert set(df.sweep) == {"a", "b"} or set(df.sweep) == {"a"}
    assert df.trial_id.nunique() == 3 and not df.duplicated(["trial_id", "condition", "metric"]).any()


def test_a_killed_population_loses_only_its_unfinished_organisms(workdir: Path) -> None:
    spec = workdir / "pop.yaml"
    text = TINY.format(name="pop").replace("widths: [3, 6]", "widths: [3]").replace("seeds: 2", "seeds: 2")
    text = text.replace("timesteps: 2048", "timesteps: {min: 2048, max: 1000000, rungs: 2}")
    text = text.replace("  - id: bestiary/AbsentSupervisor-v0\n    grid: {cue_bands: [3, 5]}\n", "")
    spec.write_text(text + "trainer: population\n")
    runs = workdir / "runs"
    driver = subprocess.Popen(_sweep_cmd(spec, runs), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = runs / "pop"
    deadline = time.monotonic() + 300
    done: list[str] = []
    while time.monotonic() < deadline and len(done) < 2:  # the 2,048-step checkpoints of both seeds
        time.sleep(0.1)
        done = [k for k, s in (_statuses(root) if root.exists() else {}).items() if s["state"] == "done"]
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    before = _statuses(root)
    assert len(done) == 2 and len(before) == 4, before
    assert all(before[k]["state"] == "running" for k in before if k not in done)  # still training when killed
    time.sleep(1.0)
    again = subprocess.run(_sweep_cmd(spec, runs), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    after = _statuses(root)
    assert all(s["state"] == "done" for s in after.values())
    for trial in done:  # recorded before the kill: untouched
        assert after[trial]["attempts"] == 1 and after[trial]["finished"] == before[trial]["finished"]
    for trial in set(after) - set(done):
        assert after[trial]["attempts"] == 2


def test_a_relative_runs_directory_works_from_the_library(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    text = TINY.format(name="relative").replace("widths: [3, 6]", "widths: [3]").replace("seeds: 2", "seeds: 1")
    report = run_sweep(parse_sweep(text), text, "runs")  # a notebook's call, with a relative path
    assert report.done == 3 and report.failed == 0
