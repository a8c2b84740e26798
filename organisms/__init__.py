"""Organisms: the scale ladder, training one organism, evaluation (behaviour + precursors), organism files.

Training and evaluation run inside :mod:`bestiary.sandbox` by default; the host writes
the spec and reads back JSON only. Library entry points: :func:`train_organism`,
:func:`evaluate_organism`, :func:`resolve`, :func:`geometric_ladder`.
"""

from bestiary.organisms.errors import OrganismError, OrganismFileError, ScaleError
from bestiary.organisms.ladder import Architecture, architecture, geometric_ladder, geometric_timesteps, param_count
from bestiary.organisms.runner import TrialOutcome, evaluate_organism, read_trial, train_organism
from bestiary.organisms.spec import EvalSpec, ResolvedTrial, TrialSpec, resolve, spec_from

__all__ = [
    "Architecture",
    "EvalSpec",
    "OrganismError",
    "OrganismFileError",
    "ResolvedTrial",
    "ScaleError",
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
