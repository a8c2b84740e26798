"""A training run split by a sweep's sealed forecast goes on from where it stopped, not from zero."""

from __future__ import annotations

import json
from pathlib import Path

from bestiary.organisms.protocol import HANDOVER
from bestiary.sweep import plan, run_sweep
from bestiary.sweep_spec import parse_sweep
from bestiary.units import resumes

SPEC = """\
name: {name}
environments:
  - id: bestiary/OffSwitch-v0
scale:
  widths: [3, 4, 5]  # runs of three widths share their seeds (three rungs: the seal can support a trend)
  timesteps: {{min: 2048, max: 8192, rungs: 3}}
seeds: 2
trainer: population
hyperparameters: {{n_steps: 32}}
evaluation: {{episodes: 32, probes: 32}}
executor: {{kind: local, workers: 2}}
{forecast}
"""


def _sweep(runs: Path, name: str, forecast: str) -> dict[int, list[Path]]:
    text = SPEC.format(name=name, forecast=forecast)
    sweep = parse_sweep(text)
    report = run_sweep(sweep, text, runs)
    assert report.done == 18 and report.failed == 0
    by_budget: dict[int, list[Path]] = {}
    for p in sorted(plan(sweep, runs), key=lambda p: (p.trial.width, p.trial.seed)):
        by_budget.setdefault(p.trial.timesteps, []).append(Path(p.run_dir.path))
    return by_budget


def test_a_run_split_by_the_seal_goes_on_and_makes_the_unsplit_organism(workdir: Path) -> None:
    split = _sweep(workdir / "runs", "split", "forecast: {timesteps: 4096}")
    whole = _sweep(workdir / "runs", "whole", "")
    for run in split[4096]:  # handed over at the last budget before the seal, and the host recorded it
        assert HANDOVER in json.loads((run / "status.json").read_text())["outputs"]
    for run in split[2048] + whole[4096]:
        assert not (run / HANDOVER).exists()
    for after, unsplit in zip(split[8192], whole[8192], strict=True):
        worker = json.loads((after / "card.json").read_text())["runs"][-1]["worker"]
        assert worker["resumed_from"] == 4096 and "handover" not in worker
        weights = "organism/weights.safetensors"
        assert (after / weights).read_bytes() == (unsplit / weights).read_bytes()
        assert (after / "train.csv").read_text().count("\n") == (unsplit / "train.csv").read_text().count("\n")
    # The host takes back only what it recorded: a handover changed since is not used (that run starts from zero).
    planned = plan(parse_sweep(SPEC.format(name="split", forecast="forecast: {timesteps: 4096}")), workdir / "runs")
    before = [(p.trial, p.run_dir) for p in planned if p.trial.timesteps <= 4096]
    after = [p.trial for p in planned if p.trial.timesteps > 4096]
    assert {r.timesteps for r in resumes(before, after).values()} == {4096} and len(resumes(before, after)) == 6
    (split[4096][0] / HANDOVER).write_bytes(b"changed")
    assert len(resumes(before, after)) == 5


def test_a_handover_that_is_not_the_recorded_organism_is_refused_and_recorded(workdir: Path) -> None:
    import hashlib

    from safetensors.torch import load, save

    text = SPEC.format(name="forged", forecast="forecast: {timesteps: 4096}")
    sweep = parse_sweep(text)
    run_sweep(sweep, text, workdir / "runs", until_seal=1)
    x = next(p for p in plan(sweep, workdir / "runs") if p.trial.timesteps == 4096).run_dir.path
    honest = (x / HANDOVER).read_bytes()
    header = json.loads(honest[8 : 8 + int.from_bytes(honest[:8], "little")])
    tensors = load(honest)
    tensors["param.0"] = tensors["param.0"] + 1.0  # other weights under the recorded organism's identity
    forged = save(tensors, metadata=header["__metadata__"])
    (x / HANDOVER).write_bytes(forged)  # as if the unit before the seal had written it and the host recorded it
    status = json.loads((x / "status.json").read_text())
    status["outputs"][HANDOVER] = hashlib.sha256(forged).hexdigest()
    (x / "status.json").write_text(json.dumps(status))
    assert run_sweep(sweep, text, workdir / "runs").failed == 0
    cards = [json.loads((p.run_dir.path / "card.json").read_text()) for p in plan(sweep, workdir / "runs")
             if p.trial.timesteps == 8192]  # fmt: skip
    refused = [c["runs"][-1] for c in cards if "not those of the organism recorded" in c["runs"][-1]["worker"].get(
        "handover", "")]  # fmt: skip
    assert refused and all("resumed_from" not in r["worker"] for r in refused)  # trained from zero instead
    # (a population goes on from its handovers only if every one is sound: X's whole population starts afresh)
    assert (x.name, hashlib.sha256(forged).hexdigest()) in {(r["handover"]["of"], r["handover"]["sha256"])
                                                            for r in refused}  # fmt: skip
