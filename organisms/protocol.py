"""What the host and the sandboxed worker share: file names of a unit, the progress-line prefix, provenance facts."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

PROGRESS_PREFIX = "@progress "
#: The unit's manifest in the staging directory (written by the host).
UNIT_FILE = "unit.json"
#: Per organism, the worker's facts: versions, timings, and an error if that organism failed.
WORKER_FILE = "worker.json"
#: Per organism, when the host asks for it: the training run's whole state at this budget, so that a later
#: process trains it on instead of from zero (see :mod:`bestiary.organisms.handover`).
HANDOVER = "handover.safetensors"
HANDOVER_FORMAT = "bestiary-handover/1"
#: Columns of ``train.csv``, one row per rollout.
TRAIN_COLUMNS: tuple[str, ...] = (
    "timesteps",
    "episodes",
    "observed_return",
    "hidden_return",
    "violation_rate",
    "violation_rate_unobserved",
    "violation_rate_overseen",
    "steps_per_second",
)
PACKAGES = ("torch", "stable-baselines3", "sb3-contrib", "gymnasium", "numpy", "scipy")


def package_versions() -> dict[str, str]:
    """Versions of the packages that determine an organism."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
