"""Executors: where a sweep's units of work run — here (``local``) or on a Ray cluster (``ray``).

Both take the same :class:`~bestiary.organisms.staging.Unit` s and yield the same
:class:`~bestiary.organisms.staging.UnitResult` s as they finish; neither writes a run
directory, counts attempts or retries (the sweep driver does that, once).
"""

from bestiary.executors.base import Executor, make_executor
from bestiary.executors.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "make_executor"]
