"""The ``local`` executor: a pool of threads on this machine, each running one sandboxed unit at a time."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from bestiary.executors.base import Executor
from bestiary.organisms.staging import EarlyResult, UnitResult, run_unit
from bestiary.organisms.unit import SandboxOptions, Unit


class LocalExecutor(Executor):
    """Units as sandboxed processes here, ``workers`` at a time (default: one per core).

    Each sandboxed process uses one torch thread, so ``workers`` processes keep as many
    cores busy.
    """

    kind = "local"

    def __init__(self, options: SandboxOptions, staging_root: Path, workers: int | None = None) -> None:
        super().__init__(options, staging_root)
        self.workers = workers or os.cpu_count() or 1

    def describe(self) -> str:
        """``local with N workers``."""
        return f"local with {self.workers} workers"

    def run(
        self,
        units: Sequence[Unit],
        on_start: Callable[[Unit], None],
        progress: Callable[[str, dict[str, Any]], None] | None = None,
        early: EarlyResult | None = None,
    ) -> Iterator[UnitResult]:
        """Run the units in a thread pool; yield results in the order they finish."""

        def one(unit: Unit) -> UnitResult:
            on_start(unit)
            return run_unit(unit, self.staging_root, self.options, progress, early)

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            pending: set[Future] = {pool.submit(one, u) for u in units}
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        yield fut.result()
            finally:
                for fut in pending:
                    fut.cancel()
