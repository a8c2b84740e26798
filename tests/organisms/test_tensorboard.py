"""TensorBoard events of a learning curve: a row whose timesteps are not finite is skipped, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from bestiary.organisms import RunDir, Status, TrialSpec, resolve
from bestiary.organisms.protocol import TRAIN_COLUMNS, TRAIN_LOG
from bestiary.organisms.tensorboard import write_events


def test_a_curve_row_without_finite_timesteps_is_skipped(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    rd = RunDir(tmp_path / "run")
    rd.write_trial(resolve(TrialSpec(env_id="bestiary/OffSwitch-v0", width=3, timesteps=1024)))
    curve = ",".join(TRAIN_COLUMNS) + "\n64,1,0,0,0,0,0,1\nnan,2,0,0,0,0,0,1\n128,3,0,0,0,0,0,1\n"
    digest = rd.write_output(TRAIN_LOG, curve.encode())  # recorded by the host before it refused such curves
    rd.write_status(Status(state="done", outputs={TRAIN_LOG: digest}))
    folder = write_events(rd, tmp_path / "tb")
    assert any(p.name.startswith("events.out.tfevents") and p.stat().st_size > 0 for p in folder.rglob("*"))
