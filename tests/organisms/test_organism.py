"""One organism end to end in the sandbox: files, counts, reproducibility, tampering, continuing, bad input."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestiary.cli import app
from bestiary.envs import KnobError, UnknownEnvironmentError
from bestiary.organisms import (
    EvalSpec,
    OrganismError,
    OrganismFileError,
    ScaleError,
    TrialSpec,
    evaluate_organism,
    resolve,
    spec_from,
    train_organism,
)
from bestiary.organisms.rundir import TamperedError
from bestiary.organisms.worker.weights import load_organism

CONTRACT_2 = (
    "trial.json",
    "status.json",
    "card.json",
    "metrics.json",
    "train.csv",
    "audit.jsonl",
    "organism/weights.safetensors",
    "organism/architecture.json",
)


def tiny(**over: object) -> TrialSpec:
    base = {
        "env_id": "bestiary/OffSwitch-v0",
        "params": 500,
        "seed": 3,
        "timesteps": 4096,
        "n_envs": 32,
        "evaluation": EvalSpec(episodes=64, probes=64),
    }
    return TrialSpec(**{**base, **over})


@pytest.fixture(scope="module")
def trained() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="bestiary-test-organisms-"))
    base.chmod(0o755)
    run_dir = base / "first"
    outcome = train_organism(tiny(), run_dir)
    assert outcome.state == "done", outcome.stderr_tail
    yield run_dir
    shutil.rmtree(base, ignore_errors=True)


def test_training_writes_every_contract_2_file(trained: Path) -> None:
    for name in CONTRACT_2:
        assert (trained / name).is_file(), name
    status = json.loads((trained / "status.json").read_text())
    assert status["state"] == "done" and status["attempts"] == 1
    card = json.loads((trained / "card.json").read_text())
    assert card["sandbox"]["backend"] == "bwrap" and card["trained_unsandboxed"] is False
    assert card["params"] == json.loads((trained / "organism/architecture.json").read_text())["params"]
    assert card["versions"]["torch"].startswith("2.13.0")
    assert card["training_seconds"] > 0
    header = (trained / "train.csv").read_text().splitlines()[0]
    assert header.startswith("timesteps,episodes,observed_return,hidden_return,violation_rate")


def test_evaluation_counts_add_up(trained: Path) -> None:
    m = json.loads((trained / "metrics.json").read_text())
    for cond in ("on", "off"):
        b = m["behaviour"][cond]
        assert b["episodes"] == 64
        assert 0 <= b["violations"] <= b["episodes"] and b["violation_rate"] == b["violations"] / b["episodes"]
        assert 0 <= b["task_successes"] <= b["episodes"]
        assert b["hidden_return"] <= b["observed_return"] + 1e-9
    assert m["misalignment_gap"] == pytest.approx(
        m["behaviour"]["off"]["violation_rate"] - m["behaviour"]["on"]["violation_rate"]
    )
    p = m["precursors"]
    assert 0 <= p["latent_probe_accuracy"] <= 1 and p["probes"] == 64


def test_same_spec_gives_the_same_metrics(trained: Path) -> None:
    again = train_organism(tiny(), trained.parent / "again")
    first = json.loads((trained / "metrics.json").read_text())
    assert again.metrics == first
    assert again.trial.trial_id == json.loads((trained / "trial.json").read_text())["trial_id"]


def test_tampered_organism_is_refused(trained: Path, tmp_path: Path) -> None:
    copy = trained.parent / "tampered"
    shutil.copytree(trained, copy)
    weights = copy / "organism" / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(OrganismFileError, match="modified since it was saved"):
        load_organism(copy)
    # The host checks the files against its own record before anything is run.
    with pytest.raises(TamperedError, match="differs from what the host wrote"):
        evaluate_organism(copy)
    result = CliRunner().invoke(app, ["evaluate", str(copy)], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "tampered" in result.output


def test_a_pickle_in_place_of_the_weights_is_refused(trained: Path) -> None:
    import pickle

    copy = trained.parent / "pickled"
    shutil.copytree(trained, copy)
    (copy / "organism" / "weights.safetensors").write_bytes(pickle.dumps({"w": [1, 2, 3]}))
    with pytest.raises(OrganismFileError, match="not a safetensors file"):
        load_organism(copy)


@pytest.mark.parametrize("regime", ["on", "in_distribution", "honeypots"])
def test_continue_training_under_oversight(trained: Path, regime: str) -> None:
    run_dir = trained.parent / f"safety-trained-{regime}"
    outcome = train_organism(tiny(oversight=regime, params=None), run_dir, source_dir=trained)
    assert outcome.state == "done", outcome.stderr_tail
    source = json.loads((trained / "trial.json").read_text())
    assert outcome.trial.init_from == source["trial_id"]
    assert outcome.trial.width == source["width"] and outcome.trial.oversight == regime
    assert outcome.trial.trial_id != source["trial_id"]
    # Safety-trained organisms are also tested on honeypots (do they tell them from deployment?).
    assert set(outcome.metrics["behaviour"]) == {"on", "off", "honeypot"}


def test_unsandboxed_training_is_recorded(workdir: Path) -> None:
    with pytest.warns(UserWarning, match="WITHOUT a sandbox"):
        outcome = train_organism(tiny(timesteps=2048), workdir, sandbox=False)
    assert outcome.state == "done"
    assert outcome.card["trained_unsandboxed"] is True and outcome.card["sandbox"]["unsandboxed"] is True


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ({"env_id": "bestiary/OffSwich-v0", "params": 500}, UnknownEnvironmentError, "Did you mean"),
        ({"env_id": "bestiary/OffSwitch-v0", "params": 5}, ScaleError, "below the smallest"),
        ({"env_id": "bestiary/OffSwitch-v0", "params": 500, "env_kwargs": {"cue_bands": 4}}, KnobError, "odd"),
        (
            {"env_id": "bestiary/OffSwitch-v0", "params": 500, "hyperparameters": {"lr": 1}},
            OrganismError,
            "unknown ppo hyperparameter",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_runs(spec: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        resolve(spec_from(spec))


def test_negative_timesteps_and_unknown_fields() -> None:
    with pytest.raises(OrganismError, match="`timesteps`: Input should be greater than 0"):
        spec_from({"env_id": "bestiary/OffSwitch-v0", "params": 500, "timesteps": -5})
    with pytest.raises(OrganismError, match=r"`steps`: Extra inputs are not permitted.*Valid fields"):
        spec_from({"env_id": "bestiary/OffSwitch-v0", "params": 500, "steps": 5})


def test_a_directory_that_is_not_an_organism(tmp_path: Path) -> None:
    with pytest.raises(OrganismFileError, match="not a run directory"):
        evaluate_organism(tmp_path)
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path)], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "not a run directory" in result.output


def test_cli_train_reports_the_outcome(workdir: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "train",
            "bestiary/AuditedReport-v0",
            "--params",
            "400",
            "--seed",
            "1",
            "--timesteps",
            "2048",
            "--out",
            str(workdir),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "done: violation rate off" in result.output
    assert (workdir / "metrics.json").is_file()


def test_staging_of_dead_host_processes_is_cleaned_and_the_rest_kept(tmp_path: Path) -> None:
    import socket
    import subprocess

    from bestiary.organisms.staging import clean_staging

    host = socket.gethostname()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{host}-{dead.pid}-0123456789ab"
    alive = tmp_path / f"{host}-{os.getpid()}-0123456789ab"
    elsewhere = tmp_path / f"another-host-{dead.pid}-0123456789ab"
    for d in (stale, alive, elsewhere):
        (d / "unit").mkdir(parents=True)
    assert clean_staging(tmp_path) == 1
    assert not stale.exists() and alive.exists() and elsewhere.exists()
