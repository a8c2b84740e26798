"""The host↔worker contract: typed files, read back with validation, and one definition of a training run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bestiary.organisms import TrialSpec, resolve
from bestiary.organisms.protocol import (
    TRAIN_COLUMNS,
    UNIT_FILE,
    ProtocolError,
    TrainRow,
    UnitManifest,
    WorkerFacts,
    parse,
    read_manifest,
    run_identity,
    shape_of,
    train_csv,
)
from bestiary.organisms.unit import Job, Unit

ENV = "bestiary/AbsentSupervisor-v0"


def _manifest(tmp_path: Path, **fields: object) -> Path:
    good = {"command": "train", "evaluate": True, "trainer": "sb3", "trials": ["a-1"], "sources": [], "seconds": 0.0,
            "hand_over": []}  # fmt: skip
    (tmp_path / UNIT_FILE).write_text(json.dumps(good | fields))
    return tmp_path


def test_the_host_writes_a_manifest_the_worker_reads_back() -> None:
    trial = resolve(TrialSpec(env_id=ENV, width=4, timesteps=1024))
    unit = Unit("train", (Job(trial, {"x": b"1"}),), trainer="population", hand_over=frozenset({trial.trial_id}))
    back = UnitManifest.model_validate(json.loads(json.dumps(unit.manifest().model_dump(mode="json"))))
    assert back.trials == [trial.trial_id] and back.sources == [trial.trial_id] and back.hand_over == [trial.trial_id]


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"trainer": "fast"}, "`trainer`"),
        ({"from": {"a-1": "source"}}, "`from`: Extra inputs are not permitted"),
        ({"trials": ["../escape"]}, "`trials`"),
        ({"hand_over": ["b-2"]}, "hand_over names trials the unit does not have"),
        ({"command": "evaluate"}, "evaluate needs every organism as a source"),
        ({"seconds": -1}, "`seconds`"),
    ],
)
def test_a_manifest_with_a_wrong_field_is_refused_saying_which(tmp_path: Path, fields: dict, says: str) -> None:
    with pytest.raises(ProtocolError, match=r"unit\.json") as info:
        read_manifest(_manifest(tmp_path, **fields))
    assert says in str(info.value)


def test_the_worker_given_a_wrong_manifest_says_so_without_a_traceback(tmp_path: Path) -> None:
    staging = _manifest(tmp_path, trainer="fast")
    out = subprocess.run([sys.executable, "-m", "bestiary.organisms.worker", str(staging)], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 2
    assert "unit.json" in out.stderr and "`trainer`" in out.stderr and "Traceback" not in out.stderr


def test_worker_facts_are_strict() -> None:
    with pytest.raises(ProtocolError, match=r"worker\.json: `surprise`"):
        parse(WorkerFacts, {"surprise": 1}, "worker.json")
    assert WorkerFacts(error="x").to_json() == {"versions": {}, "error": "x"}


def test_train_rows_make_the_train_csv_columns() -> None:
    nan = float("nan")
    row = TrainRow(timesteps=64, episodes=3, observed_return=0.5, hidden_return=nan, violation_rate=1 / 3,
                   violation_rate_unobserved=0.0, violation_rate_overseen=nan, steps_per_second=1234.5678)  # fmt: skip
    header, line = train_csv([row]).splitlines()
    assert tuple(header.split(",")) == TRAIN_COLUMNS
    assert line == "64,3,0.5,nan,0.333333,0,nan,1234.57"


def test_a_training_run_is_its_shape_and_its_stream() -> None:
    small, large = (resolve(TrialSpec(env_id=ENV, width=4, seed=1, timesteps=t)) for t in (1024, 4096))
    assert run_identity(small) == run_identity(large)  # budgets are checkpoints of one run
    wider = resolve(TrialSpec(env_id=ENV, width=8, seed=1, timesteps=1024))
    other_seed = resolve(TrialSpec(env_id=ENV, width=4, seed=2, timesteps=1024))
    assert shape_of(wider) != shape_of(small) and shape_of(other_seed) == shape_of(small)
    assert len({run_identity(t) for t in (small, wider, other_seed)}) == 3
