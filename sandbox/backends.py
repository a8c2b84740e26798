"""Sandbox backends: a small abstract class, and a registry filled by decorator.

A backend runs one command with a policy and a writable run directory and returns a
:class:`~bestiary.sandbox.result.SandboxResult`; it raises
:class:`~bestiary.sandbox.errors.SandboxUnavailable` (running nothing) if a required
layer cannot be established.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from bestiary.sandbox.errors import SandboxUnavailable
from bestiary.sandbox.outputs import inventory
from bestiary.sandbox.policy import MIB, Limits, Policy
from bestiary.sandbox.process import CappedReader, kill_process_group, supervise
from bestiary.sandbox.result import SandboxResult, append_audit, kernel, read_previous_audit, timestamp

BACKENDS: dict[str, type[SandboxBackend]] = {}
AUDIT_FILE = "audit.jsonl"


def register_backend(cls: type[SandboxBackend]) -> type[SandboxBackend]:
    """Class decorator: make a backend available by its ``name``."""
    BACKENDS[cls.name] = cls
    return cls


class SandboxBackend(ABC):
    """Runs one command in isolation.

    Subclasses set ``name`` and implement :meth:`run`.
    """

    name: ClassVar[str]

    @abstractmethod
    def run(
        self,
        command: Sequence[str],
        workdir: Path | str,
        policy: Policy | None = None,
        audit_path: Path | None = None,
        on_stdout_line: Callable[[bytes], None] | None = None,
    ) -> SandboxResult:
        """Run ``command`` with ``workdir`` as its only writable directory.

        Args:
            command: Program and arguments.
            workdir: The run directory (created if missing); the command's working directory.
            policy: Limits and required layers (defaults: :class:`Policy`).
            audit_path: JSONL audit log (default: ``workdir/audit.jsonl``).
            on_stdout_line: Receives each line of the command's stdout as it arrives.

        Returns:
            The result, whatever the command did.

        Raises:
            SandboxUnavailable: If a required layer cannot be established; nothing ran.
        """


def get_backend(name: str = "bwrap", *, allow_unsandboxed: bool = False) -> SandboxBackend:
    """A backend by name.

    Args:
        name: ``bwrap`` (default) or ``none``.
        allow_unsandboxed: Must be True for ``none``: running without isolation is an
            explicit opt-out (``--no-sandbox``), never a fallback.

    Raises:
        ValueError: For an unknown backend, or ``none`` without the opt-out.
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown sandbox backend {name!r}; available: {', '.join(sorted(BACKENDS))}")
    if name == "none" and not allow_unsandboxed:
        raise ValueError("the `none` backend runs without isolation; it needs the explicit opt-out (--no-sandbox)")
    return BACKENDS[name]()


def rlimits(limits: Limits) -> dict[int, int]:
    """The rlimits every backend applies to the command (soft = hard)."""
    return {
        resource.RLIMIT_CPU: int(limits.cpu_seconds) + 1,
        resource.RLIMIT_FSIZE: limits.file_size_mb * MIB,
        resource.RLIMIT_NOFILE: limits.open_files,
        resource.RLIMIT_NPROC: limits.pids + 64,  # per uid: the cgroup is the tight per-run limit
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_AS: limits.address_space_mb * MIB,
    }


def apply_rlimits(limits: dict[int, int]) -> None:
    """Set rlimits in the calling process (used before exec)."""
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))


def finish(
    command: Sequence[str],
    backend: str,
    policy: Policy,
    workdir: Path,
    audit_path: Path,
    previous_audit: bytes | None,
    proc: subprocess.Popen,
    kill: Callable[[], None],
    cpu_seconds: Callable[[], float] | None,
    counters: Callable[[], dict],
    layers: dict,
    extra_audit: dict,
    classify: Callable[..., str],
    on_exit: Callable[[], None] = lambda: None,
    on_stdout_line: Callable[[bytes], None] | None = None,
) -> SandboxResult:
    """Shared tail of every backend: supervise, capture, classify, inventory, audit.

    ``on_exit`` runs once the command has ended, before the audit record is written (a
    backend completes ``layers`` there). ``on_stdout_line`` receives stdout line by line.
    """
    out = CappedReader(proc.stdout, policy.limits.output_bytes, on_stdout_line)  # type: ignore[arg-type]
    err = CappedReader(proc.stderr, policy.limits.output_bytes)  # type: ignore[arg-type]
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    outcome = supervise(proc, policy.limits.wall_seconds, kill, cpu_seconds, policy.limits.cpu_seconds)
    kill()  # daemons left behind by the command, if any
    out.join(5)
    err.join(5)
    on_exit()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    c = counters()
    cpu = c.get("cpu_seconds")
    if cpu is None:
        cpu = (usage.ru_utime + usage.ru_stime) - (usage_before.ru_utime + usage_before.ru_stime)
    peak = c.get("memory_peak_bytes")
    reason = classify(outcome, c)
    files = inventory(
        workdir,
        policy.limits.max_output_files,
        skip=frozenset({audit_path.name}) if audit_path.parent == workdir else frozenset(),
    )
    record = {
        "time": timestamp(),
        "backend": backend,
        "command": list(command),
        "workdir": str(workdir),
        "kernel": kernel(),
        "layers": layers,
        "policy": policy.to_json(),
        "exit_code": outcome.exit_code,
        "reason": reason,
        "wall_seconds": round(outcome.wall_seconds, 4),
        "cpu_seconds": round(cpu, 4),
        "peak_memory_bytes": peak,
        "counters": c,
        "stdout_bytes": out.total,
        "stderr_bytes": err.total,
        "outputs": files,
        **extra_audit,
    }
    append_audit(audit_path, record, previous_audit)
    return SandboxResult(
        command=list(command),
        backend=backend,
        exit_code=outcome.exit_code,
        reason=reason,
        wall_seconds=outcome.wall_seconds,
        cpu_seconds=cpu,
        peak_memory_bytes=peak,
        stdout=out.data(),
        stderr=err.data(),
        stdout_bytes=out.total,
        stderr_bytes=err.total,
        layers=layers,
        audit=record,
    )


def basic_reason(outcome, counters: dict) -> str:  # type: ignore[no-untyped-def]
    """Reason from the supervisor's verdict, signals and exit code alone."""
    if outcome.killed_for:
        return outcome.killed_for
    if outcome.exit_code == 128 + 24:  # SIGXCPU: RLIMIT_CPU
        return "cpu_limit"
    return "ok" if outcome.exit_code == 0 else "error"


@register_backend
class NoSandbox(SandboxBackend):
    """No isolation at all: only the rlimits, the timeout and the audit. An explicit opt-out."""

    name = "none"

    def run(
        self,
        command: Sequence[str],
        workdir: Path | str,
        policy: Policy | None = None,
        audit_path: Path | None = None,
        on_stdout_line: Callable[[bytes], None] | None = None,
    ) -> SandboxResult:
        """Run ``command`` directly, warning that it is not isolated."""
        policy = policy or Policy()
        workdir = Path(workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        audit_path = audit_path or workdir / AUDIT_FILE
        warnings.warn(
            "running WITHOUT a sandbox (--no-sandbox): the command can reach everything you can", stacklevel=2
        )
        print("bestiary: WARNING: running without a sandbox (--no-sandbox)", file=sys.stderr)
        previous = read_previous_audit(audit_path)
        limits = rlimits(policy.limits)
        limits.pop(resource.RLIMIT_NPROC)  # per uid: would count the host user's own processes
        proc = subprocess.Popen(
            list(command),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=lambda: apply_rlimits(limits),
        )
        layers = {
            "unsandboxed": True,
            **{k: False for k in ("namespaces", "drop_root", "cgroup", "seccomp", "landlock")},
            "rlimits": True,
        }
        return finish(
            command,
            self.name,
            policy,
            workdir,
            audit_path,
            previous,
            proc,
            lambda: kill_process_group(proc),
            None,
            dict,
            layers,
            {"unsandboxed": True},
            basic_reason,
            on_stdout_line=on_stdout_line,
        )


def sandbox_uid_for(policy: Policy) -> int | None:
    """The uid the sandbox runs as: the policy's when the launcher is root, else None (the caller's)."""
    return policy.uid if os.geteuid() == 0 else None


def ensure_available(condition: bool, layer: str, required: frozenset[str], message: str) -> bool:
    """Raise :class:`SandboxUnavailable` if a required layer is not available; else say if it is."""
    if not condition and layer in required:
        raise SandboxUnavailable(f"{layer}: {message}")
    return condition
