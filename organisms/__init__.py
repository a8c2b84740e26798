"""Organisms: the scale ladder, training one organism, evaluation (behaviour + precursors), organism files.

Training and evaluation run inside :mod:`bestiary.sandbox` by default; the host writes
the spec and reads back JSON only. Library entry points: :func:`train_organism`,
:func:`evaluate_organism`, :func:`resolve`, :func:`geometric_ladder`.
"""

from bestiary.organisms.errors import OrganismError, OrganismFileError, ScaleError
from bestiary.organisms.finalize import TrialOutcome
from bestiary.organisms.ladder import Architecture, architecture, geometric_ladder, geometric_timesteps, param_count
from bestiary.organisms.rundir import RunDir, RunDirError, Status
from bestiary.organisms.runner import evaluate_organism, read_trial, train_organism
from bestiary.organisms.spec import ALGORITHMS, EvalSpec, ResolvedTrial, TrialSpec, resolve, spec_from

__all__ = [
    "ALGORITHMS",
    "Architecture",
    "EvalSpec",
    "OrganismError",
    "OrganismFileError",
    "ResolvedTrial",
    "RunDir",
    "RunDirError",
    "ScaleError",
    "Status",
    "TrialOutcome",
    "TrialSpec",
    "architecture",
    "evaluate_organism",
    "geometric_ladder",
    "geometric_timesteps",
    "param_count",
    "read_trial",
    "resolve",
    "spec_from",
    "train_organism",
]
