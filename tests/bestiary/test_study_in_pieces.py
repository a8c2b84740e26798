"""A study in pieces, end to end in the sandbox: seal, export, commit, lose the runs, rebuild, score, report."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from bestiary.cli import app
from bestiary.organisms.sweepdir import SweepDir

runner = CliRunner()

SPEC = """\
name: pieces
environments:
  - id: bestiary/OffSwitch-v0
scale:
  widths: [3, 4, 6, 8]
  timesteps: {min: 1024, max: 8192, rungs: 4}
  max_compute: 5.0e7          # the (6, 8192) and (8, 8192) cells lie beyond the cap
seeds: 2
hyperparameters: {n_steps: 32}
evaluation: {episodes: 32, probes: 32}
executor: {kind: local, workers: 2}
forecast: {compute: [8.0e6, 1.6e7, 3.2e7]}
"""


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                         capture_output=True, text=True)  # fmt: skip
    return out.stdout


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def _weights(runs: Path) -> dict[str, bytes]:
    return {p.parent.parent.name: p.read_bytes() for p in runs.glob("*/organism/weights.safetensors")}


def test_a_study_split_by_seals_survives_losing_its_runs(workdir: Path) -> None:
    repo = workdir / "study"
    repo.mkdir()
    _git(repo, "init", "-q")
    spec = repo / "spec.yaml"
    spec.write_text(SPEC)
    runs = workdir / "runs"  # outside the repository
    sweep_dir = SweepDir(runs / "pieces")

    # Phase 1: train up to the first level, seal, stop; nothing above the seal exists.
    out = _cli("sweep", str(spec), "--runs", str(runs), "--until-seal", "1")
    assert "cells of the grid lie beyond max_compute" in out and "seal 1" in out
    first = _weights(sweep_dir.path)
    seal1 = json.loads(sweep_dir.seal(1, 3).read_text())
    assert set(first) == set(seal1["organisms"]) and seal1["context"]["organisms_beyond_already_trained"] == 0
    assert not sweep_dir.seal(2, 3).exists()
    # A forecast made by hand from the sweep's directory knows every budget of its plan, trained or not.
    _cli("forecast", str(sweep_dir.path), "-o", str(workdir / "hand.json"), "--n-boot", "0", "--max-compute", "8e6")
    budgets = {p["at"].get("timesteps") for p in json.loads((workdir / "hand.json").read_text())["predictions"]}
    assert {1024.0, 2048.0, 4096.0, 8192.0} <= budgets

    # Export it with its table and commit it before training on.
    folder = repo / "results" / "seal-1"
    _cli("seal", "export", str(sweep_dir.path), "1", str(folder))
    assert {p.name for p in folder.iterdir()} == {"forecast.json", "table.csv", "sweep.yaml", "README.md"}
    assert (folder / "forecast.json").read_bytes() == sweep_dir.seal(1, 3).read_bytes()
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "seal 1")
    assert "exported there before" in _cli("seal", "export", str(sweep_dir.path), "1", str(folder))
    missing = runner.invoke(app, ["seal", "export", str(sweep_dir.path), "2", str(workdir / "s2")])
    assert missing.exit_code == 2 and "has no seal 2" in missing.output and "--until-seal 2" in missing.output

    # The machine is lost: the run directory goes. The sweep rebuilds what is missing and goes on to the end.
    shutil.rmtree(runs)
    _cli("sweep", str(spec), "--runs", str(runs))
    rebuilt = _weights(sweep_dir.path)
    assert all(rebuilt[t] == w for t, w in first.items())  # the same organisms, bit for bit
    assert [k for k, _ in sweep_dir.seals()] == [1, 2, 3]
    for k in (2, 3):
        ctx = json.loads(sweep_dir.seal(k, 3).read_text())["context"]
        assert ctx["seal"] == k and ctx["organisms_beyond_already_trained"] == 0
    other = runner.invoke(app, ["seal", "export", str(sweep_dir.path), "2", str(folder)])
    assert other.exit_code == 2 and "holds another seal" in other.output  # a seal is never overwritten

    # Collect into the repository, commit, and score the committed seal against the committed table.
    _cli("collect", str(sweep_dir.path), "--out", str(repo / "results" / "results"))
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "results")
    scored = _cli("score", str(folder / "forecast.json"), str(repo / "results" / "results.parquet"))
    assert "order: proven: sealed in commit" in scored and "sealed by commit" in scored
    # Scored against the run directory instead, git cannot prove the order, and says so.
    assert "NOT PROVEN" in _cli("score", str(folder / "forecast.json"), str(sweep_dir.path))

    # The report scores every seal and draws the error against the lead.
    report = workdir / "report.html"
    _cli("report", str(sweep_dir.path), "-o", str(report), "--n-boot", "0")
    page = report.read_text()
    assert "Forecast error against lead" in page and 'alt="forecast error against lead"' in page
    for k in (1, 2, 3):
        assert f"<h3>seal {k}</h3>" in page
