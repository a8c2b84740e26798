"""The executor interface (after Hydra's ``Launcher``): run units, yield their results as they finish."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bestiary.organisms.staging import EarlyResult, UnitResult
from bestiary.organisms.unit import SandboxOptions, Unit


class Executor(ABC):
    """Runs units of work, each in the sandbox, and yields their results as they finish.

    Args:
        options: How units are sandboxed.
        staging_root: Where units' staging directories are made on this machine.
    """

    kind: str

    def __init__(self, options: SandboxOptions, staging_root: Path) -> None:
        self.options = options
        self.staging_root = staging_root

    @abstractmethod
    def run(
        self,
        units: Sequence[Unit],
        on_start: Callable[[Unit], None],
        progress: Callable[[str, dict[str, Any]], None] | None = None,
        early: EarlyResult | None = None,
    ) -> Iterator[UnitResult]:
        """Run every unit; yield each result when it is ready.

        Args:
            units: The units to run.
            on_start: Called (from any thread) just before a unit starts, or when it is
                handed to a cluster.
            progress: Receives ``(trial id, progress dict)`` where the executor can relay it.
            early: Receives an organism's outputs as soon as it is complete, before its unit
                ends, where the executor can relay it (see ``run_unit``); the others come
                in the unit's result.

        Raises:
            SandboxUnavailable: If the sandbox cannot be established (the remaining units
                are cancelled).
        """

    def describe(self) -> str:
        """One line for the sweep's header."""
        return self.kind
