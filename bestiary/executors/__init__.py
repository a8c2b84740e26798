"""Executors: where a sweep's units of work run — here (``local``) or on a Ray cluster (``ray``).

Both take the same :class:`~bestiary.organisms.staging.Unit` s and yield the same
:class:`~bestiary.organisms.staging.UnitResult` s as they finish; neither writes a run
directory, counts attempts or retries (the sweep driver does that, once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bestiary.executors.base import Executor
from bestiary.executors.local import LocalExecutor
from bestiary.organisms.unit import SandboxOptions


def make_executor(kind: str, options: SandboxOptions, staging_root: Path, **settings: Any) -> Executor:
    """The executor of a sweep spec's ``executor.kind``.

    Raises:
        ValueError: For an unknown kind.
    """
    if kind == "local":
        return LocalExecutor(options, staging_root, workers=settings.get("workers"))
    if kind == "ray":
        from bestiary.executors.ray import RayExecutor

        return RayExecutor(options, staging_root, address=settings["address"])
    raise ValueError(f"unknown executor {kind!r}; expected local or ray")


__all__ = ["Executor", "LocalExecutor", "make_executor"]
