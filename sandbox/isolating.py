"""What every isolating backend does the same way: the preflight, the run's cgroup, classifying how it ended.

:class:`IsolatingBackend` is the base of the bubblewrap and gVisor backends (and of any
plugin backend that wants it): a run is prepared (:meth:`~IsolatingBackend.preflight`:
the backend is available, the policy's layers resolved, the writable directory made and
handed to the run's uid, the read-only view listed), limited (:meth:`~IsolatingBackend.limit_group`:
its cgroup, or a recorded absence where the policy allows one), supervised
(:meth:`~IsolatingBackend.supervision`) and classified (:meth:`~IsolatingBackend.classify`);
a run that never started raises :class:`SetupFailed`. Subclasses keep only what differs:
how the command line is built and how the isolation is set up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bestiary.sandbox import quota, view
from bestiary.sandbox.base import (
    Launch,
    SandboxBackend,
    ensure_available,
    prepare_workdir,
    resolve_policy,
    sandbox_uid_for,
)
from bestiary.sandbox.cgroups import Cgroup, CgroupUnavailableError, create_cgroup
from bestiary.sandbox.errors import SandboxUnavailable
from bestiary.sandbox.policy import MIB, Policy
from bestiary.sandbox.process import Outcome, Running, basic_reason, complete
from bestiary.sandbox.result import SandboxResult


class SetupFailed(SandboxUnavailable):
    """The sandbox could not be set up, so the command never started; ``result`` is what the attempt left."""

    def __init__(self, message: str, result: SandboxResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class Prepared:
    """A launch ready to run: its policy resolved, its writable directory made.

    Attributes:
        launch: The launch, with the resolved policy and the real writable directory.
        uid: The uid the run has (None: the caller's).
        ro: The host paths mounted read-only inside.
    """

    launch: Launch
    uid: int | None
    ro: list[str]


class IsolatingBackend(SandboxBackend):
    """A backend that isolates: the shared skeleton of its runs (see the module docstring)."""

    #: How the backend's sandbox is named in a setup failure ("the gVisor sandbox could not be set up").
    label = "sandbox"

    def run_uid(self, policy: Policy) -> int | None:
        """The uid the run has: the policy's when the launcher is root (None: the caller's)."""
        return sandbox_uid_for(policy)

    def preflight(self, launch: Launch) -> Prepared:
        """Check the backend, resolve the policy, make the writable directory and list the read-only view.

        Raises:
            SandboxUnavailable: If the backend cannot run here, or the policy or the directory is refused.
        """
        missing = self.unavailable()
        if missing:
            raise SandboxUnavailable(missing)
        policy = resolve_policy(launch.policy, self)
        uid = self.run_uid(policy)
        workdir = prepare_workdir(launch.workdir, uid)
        ro = view.system_binds() + list(view.runtime_paths()) + list(policy.ro_binds)
        return Prepared(dataclasses.replace(launch, workdir=workdir, policy=policy), uid, ro)

    def limit_group(self, name: str, policy: Policy, layers: dict[str, Any]) -> Cgroup | None:
        """The run's cgroup with the policy's memory, process and CPU limits, recorded in ``layers``.

        Raises:
            SandboxUnavailable: If cgroups are unavailable and the policy requires them.
        """
        limits = policy.limits
        try:
            cgroup = create_cgroup(name, limits.memory_mb * MIB, self.process_limits(limits)[0], limits.cpus)
        except CgroupUnavailableError as exc:
            ensure_available(False, "cgroup", policy.required, str(exc))
            layers["cgroup"] = False
            return None
        layers["cgroup"] = f"v{cgroup.version}"
        return cgroup

    @staticmethod
    def supervision(cgroup: Cgroup | None, host_dir: Path | None) -> dict[str, Any]:
        """How a run is measured: its cgroup's CPU time and counters, and its disk quota (``Running``'s fields)."""
        return {
            "cpu_seconds": cgroup.cpu_seconds if cgroup else None,
            "counters": cgroup.counters if cgroup else dict,
            "host_dir": host_dir,
            "disk_full": (lambda: quota.full(host_dir)) if host_dir is not None else None,
        }

    @staticmethod
    def classify(outcome: Outcome, counters: dict[str, Any], never_started: bool) -> str:
        """Why a run ended: ``setup_failed`` if it never started, else the supervisor's, the cgroup's or the exit's."""
        if never_started:
            return "setup_failed"
        if outcome.killed_for:
            return outcome.killed_for
        if counters.get("oom_kills"):
            return "oom"
        if outcome.exit_code != 0 and counters.get("pids_limit_hits"):
            return "pids_limit"
        return basic_reason(outcome, counters)

    def finish(
        self,
        launch: Launch,
        running: Running,
        never_started: Callable[[Outcome], bool],
        why_not_started: Callable[[], str | None] = lambda: None,
    ) -> SandboxResult:
        """Supervise the run to its end, classify it (:meth:`classify`) and build its result.

        Args:
            launch: The prepared launch.
            running: The launched process and how to measure and end it.
            never_started: Whether the backend's launcher says the command never started.
            why_not_started: Why, if the launcher said so.

        Raises:
            SetupFailed: If the command never started (saying why: ``why_not_started()``, else the end of
                the launcher's stderr); nothing ran.
        """
        running.classify = lambda outcome, counters: self.classify(outcome, counters, never_started(outcome))
        result = complete(launch, self.name, running)
        if result.reason == "setup_failed":
            stderr = result.stderr.decode(errors="replace").strip()[-1000:]
            why = why_not_started() or stderr or f"{self.name} did not start"
            raise SetupFailed(f"the {self.label} could not be set up, so nothing was run: {why}", result)
        return result
