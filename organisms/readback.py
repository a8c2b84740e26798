"""Reading back what a unit's worker left in its staging directory: only what was asked for, bounded, never sparse.

Every file there is hostile input. Per organism the host reads only the declared outputs
(:data:`DECLARED`) its unit asked for (:func:`asked_for`), each without following links,
within its size bound, and refused if sparse (a sparse file costs the run nothing against
its disk quota but would cost the host its whole size in memory); a unit's reads share
one allowance (:data:`UNIT_READ_BYTES`). Anything else the run left is noted, never read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bestiary.organisms.protocol import (
    ARCHITECTURE_PATH,
    DETECTION,
    HANDOVER,
    METRICS,
    TRAIN_LOG,
    WEIGHTS_PATH,
    WORKER_FILE,
)
from bestiary.organisms.spec import ResolvedTrial
from bestiary.organisms.unit import Job, Unit
from bestiary.sandbox.outputs import UnsafeOutputError, read_output

#: Outputs a worker may leave per organism, and the most bytes each may have.
DECLARED: dict[str, int] = {
    METRICS: 1024 * 1024,
    TRAIN_LOG: 32 * 1024 * 1024,
    ARCHITECTURE_PATH: 64 * 1024,
    WEIGHTS_PATH: 512 * 1024 * 1024,  # tightened per organism from its parameter count
    WORKER_FILE: 256 * 1024,
    HANDOVER: 1024 * 1024 * 1024,  # tightened per organism, like the weights
    DETECTION: 8 * 1024 * 1024,
}


def weights_bound(params: int) -> int:
    """Most bytes a safetensors file of a policy with ``params`` float32 parameters may take (with its header)."""
    return 8 * params + 1024 * 1024


def handover_bound(trial: ResolvedTrial) -> int:
    """Most bytes a handover file may take: weights and Adam's two moments, the environment copies, the curve."""
    return 3 * weights_bound(trial.params) + trial.n_envs * 1024 * 1024 + 64 * 1024 * 1024


@dataclass
class StagedTrial:
    """One organism's declared outputs, read back from the staging directory.

    Attributes:
        files: Relative path → bytes of the declared outputs that were there and safe.
        problems: What was wrong (unsafe, too large, unexpected entries), in words.
    """

    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


#: The most bytes of outputs the host reads back from one unit (its disk quota bounds an honest one far below).
UNIT_READ_BYTES = 1024 * 1024 * 1024


def asked_for(unit: Unit, trial_id: str) -> set[str]:
    """The declared outputs the host reads back for one organism of ``unit`` (others are not read)."""
    asked = {WORKER_FILE}
    if unit.command == "train":
        asked |= {WEIGHTS_PATH, ARCHITECTURE_PATH, TRAIN_LOG}
        if trial_id in unit.hand_over:
            asked.add(HANDOVER)
    if unit.command == "evaluate" or (unit.command == "train" and unit.evaluate):
        asked.add(METRICS)
    if unit.command == "audit":
        asked.add(DETECTION)
    return asked


def read_staged(job: Job, unit_dir: Path, unit: Unit, budget: list[int] | None = None) -> StagedTrial:
    """One organism's declared outputs: those asked for, bounded, never sparse, and without following links.

    Args:
        job: The organism.
        unit_dir: The unit's staging directory.
        unit: The unit, which says what was asked for.
        budget: The unit's remaining read allowance in bytes (a one-element list, decreased).
    """
    tid = job.trial.trial_id
    staged = StagedTrial()
    asked = asked_for(unit, tid)
    for rel, bound in DECLARED.items():
        if rel not in asked:
            if os.path.lexists(unit_dir / tid / rel):
                staged.problems.append(f"{rel} was not asked for")
            continue
        if rel == WEIGHTS_PATH:
            bound = min(bound, weights_bound(job.trial.params))
        elif rel == HANDOVER:
            bound = min(bound, handover_bound(job.trial))
        if budget is not None:
            bound = min(bound, budget[0])
        try:
            data = read_output(unit_dir / tid, rel, bound, allow_sparse=False)
        except FileNotFoundError:
            continue
        except (UnsafeOutputError, OSError) as exc:
            staged.problems.append(f"{rel}: {exc}")
            continue
        staged.files[rel] = data
        if budget is not None:
            budget[0] -= len(data)
    return staged


def read_back(unit: Unit, unit_dir: Path, skip: frozenset[str] = frozenset()) -> dict[str, StagedTrial]:
    """Read the organisms' declared outputs (but those in ``skip``): only what was asked, within the unit's budget."""
    budget = [UNIT_READ_BYTES]
    return {j.trial.trial_id: read_staged(j, unit_dir, unit, budget) for j in unit.jobs if j.trial.trial_id not in skip}
