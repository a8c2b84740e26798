"""Organisms recorded as the worker finishes them: each exactly once, whatever the recording costs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bestiary.organisms import EvalSpec, TrialSpec, resolve
from bestiary.organisms.protocol import WORKER_FILE
from bestiary.organisms.readback import StagedTrial
from bestiary.organisms.staging import run_unit
from bestiary.organisms.unit import Job, SandboxOptions, Unit

ENV = "bestiary/OffSwitch-v0"


def test_slow_early_records_are_waited_for_and_every_organism_is_recorded_once(workdir: Path) -> None:
    trials = [
        resolve(TrialSpec(env_id=ENV, width=3, seed=seed, timesteps=steps, n_envs=16, trainer="population",
                          hyperparameters={"n_steps": 32}, evaluation=EvalSpec(episodes=16, probes=20)))
        for seed in (0, 1) for steps in (512, 1024)
    ][:3]  # fmt: skip
    unit = Unit("train", tuple(Job(t) for t in trials), trainer="population")
    seen: list[str] = []

    def early(unit: Unit, tid: str, staged: StagedTrial, facts: dict[str, Any]) -> None:
        assert WORKER_FILE in staged.files, staged.problems  # read while the staging directory still exists
        time.sleep(5.5)  # longer than a unit waits for the thread that reads its worker's stdout
        seen.append(tid)

    result = run_unit(unit, workdir / "staging", SandboxOptions(), early=early)
    ids = {t.trial_id for t in trials}
    assert sorted(seen) == sorted(result.early) and len(seen) == len(set(seen))
    assert set(result.early) | set(result.trials) == ids and not set(result.early) & set(result.trials)
    assert not any((workdir / "staging").iterdir())  # removed only after every record ended
