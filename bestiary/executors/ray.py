"""The ``ray`` executor: units as plain Ray tasks on an existing cluster.

Each task runs its unit in the sandbox of whichever node runs it, in a staging directory
there, and returns the unit's declared outputs as bytes (bounded, read without following
links, on that node); the driver checks them and writes the run directories. Nodes
therefore need no shared filesystem — only Bestiary installed and the sandbox available
(``bestiary sandbox check``). Ray is an optional dependency: ``pip install 'bestiary[ray]'``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bestiary.errors import BestiaryError
from bestiary.executors.base import Executor
from bestiary.organisms.staging import EarlyResult, UnitResult, run_unit
from bestiary.organisms.unit import SandboxOptions, Unit
from bestiary.sandbox import SandboxUnavailable


class RayUnavailableError(BestiaryError):
    """Ray is not installed, or the cluster cannot be reached."""


def _unit_on_node(unit: Unit, options: SandboxOptions) -> UnitResult:
    """Runs on a Ray worker: the unit in the node's sandbox, in a staging directory of its own."""
    base = Path(tempfile.mkdtemp(prefix="bestiary-ray-"))
    base.chmod(0o755)  # the sandbox's unprivileged uid must reach the staging directory
    try:
        result = run_unit(unit, base, options)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    result.node = _node_id()
    return result


def _node_id() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # outside a Ray worker
        return os.uname().nodename


class RayExecutor(Executor):
    """Units as Ray tasks (one CPU each) on the cluster at ``address``."""

    kind = "ray"

    def __init__(self, options: SandboxOptions, staging_root: Path, address: str) -> None:
        super().__init__(options, staging_root)
        self.address = address

    def describe(self) -> str:
        """``ray at ADDRESS``."""
        return f"ray at {self.address}"

    def _connect(self) -> Any:
        try:
            import ray
        except ImportError as exc:
            raise RayUnavailableError("the ray executor needs Ray: pip install 'bestiary[ray]'") from exc
        try:
            ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
        except Exception as exc:  # Ray raises several types for an unreachable cluster
            raise RayUnavailableError(f"cannot reach the Ray cluster at {self.address}: {exc}") from exc
        return ray

    def run(
        self,
        units: Sequence[Unit],
        on_start: Callable[[Unit], None],
        progress: Callable[[str, dict[str, Any]], None] | None = None,
        early: EarlyResult | None = None,
    ) -> Iterator[UnitResult]:
        """Submit every unit as a task; yield results as tasks finish (a lost task is a result with an error).

        A Ray task returns its whole unit at once, so ``progress`` and ``early`` are not relayed.

        Raises:
            RayUnavailableError: If Ray is not installed or the cluster cannot be reached.
        """
        ray = self._connect()
        task = ray.remote(num_cpus=1, max_retries=0)(_unit_on_node)
        pending: dict[Any, Unit] = {}
        for unit in units:
            on_start(unit)
            pending[task.remote(unit, self.options)] = unit
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            unit = pending.pop(ready[0])
            try:
                yield ray.get(ready[0])
            except Exception as exc:  # a task that died (node lost, worker crash) is a failed attempt
                cause = getattr(exc, "cause", None)
                reason = "setup_failed" if isinstance(cause, SandboxUnavailable) else "lost"
                yield UnitResult(
                    unit, error=f"ray: {type(cause or exc).__name__}: {str(cause or exc)[:500]}", error_reason=reason
                )
