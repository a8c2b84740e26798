"""Running a launched process to its end: capped output capture, wall-clock and CPU supervision, the audit."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from bestiary.sandbox.outputs import inventory
from bestiary.sandbox.result import SandboxResult, append_audit, kernel, timestamp

if TYPE_CHECKING:
    from bestiary.sandbox.base import Launch


class CappedReader(threading.Thread):
    """Drains a pipe to its end, keeping at most ``cap`` bytes (so a flood cannot block or exhaust the host).

    ``on_line``, if given, receives each complete line (up to 64 KiB; longer ones are cut)
    as it arrives, e.g. for progress reports.
    """

    def __init__(self, stream: IO[bytes], cap: int, on_line: Callable[[bytes], None] | None = None) -> None:
        super().__init__(daemon=True)
        self.stream, self.cap, self.on_line = stream, cap, on_line
        self._partial = b""
        self.chunks: list[bytes] = []
        self.kept = 0
        self.total = 0
        self.start()

    def run(self) -> None:  # noqa: D102
        fd = self.stream.fileno()
        while True:
            try:
                block = os.read(fd, 1 << 16)
            except OSError:
                break
            if not block:
                break
            self.total += len(block)
            if self.on_line is not None:
                self._lines(block)
            if self.kept < self.cap:
                keep = block[: self.cap - self.kept]
                self.chunks.append(keep)
                self.kept += len(keep)
        self.stream.close()

    def _lines(self, block: bytes) -> None:
        *complete, self._partial = (self._partial + block).split(b"\n")
        self._partial = self._partial[-65536:]
        for line in complete:
            try:
                self.on_line(line[:65536])  # type: ignore[misc]
            except Exception:  # a faulty consumer must not stop the draining
                self.on_line = None
                break

    def data(self) -> bytes:
        """What was kept."""
        return b"".join(self.chunks)


@dataclass
class Outcome:
    """How supervision ended: the exit code and whether the supervisor killed the run (and why)."""

    exit_code: int
    killed_for: str | None
    wall_seconds: float


def supervise(
    proc: subprocess.Popen,
    wall_seconds: float,
    kill: Callable[[], None],
    cpu_seconds: Callable[[], float] | None = None,
    cpu_limit: float | None = None,
    poll: float = 0.05,
    disk_full: Callable[[], bool] | None = None,
) -> Outcome:
    """Wait for ``proc``, killing the whole run at the wall-clock or total-CPU limit, or when its disk is full.

    Args:
        proc: The launched process (the sandbox launcher).
        wall_seconds: Wall-clock limit.
        kill: Kills the run's whole process tree.
        cpu_seconds: Reads the run's total CPU time so far (e.g. from its cgroup).
        cpu_limit: Total CPU limit checked against ``cpu_seconds``.
        poll: Seconds between checks.
        disk_full: Says whether the run's disk quota is used up.
    """
    start = time.monotonic()
    killed_for = None
    while True:
        try:
            code = proc.wait(timeout=poll)
            break
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() - start > wall_seconds:
            killed_for = "timeout"
        elif cpu_seconds is not None and cpu_limit is not None and cpu_seconds() > cpu_limit:
            killed_for = "cpu_limit"
        elif disk_full is not None and disk_full():
            killed_for = "disk"
        if killed_for:
            kill()
            code = proc.wait()
            break
    return Outcome(_exit_code(code), killed_for, time.monotonic() - start)


def _exit_code(returncode: int) -> int:
    """Popen's negative signal numbers as the shell's ``128 + signal``."""
    return 128 - returncode if returncode < 0 else returncode


def kill_process_group(proc: subprocess.Popen) -> None:
    """SIGKILL the launcher's process group (it was started in a new session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def basic_reason(outcome: Outcome, counters: dict) -> str:
    """Reason from the supervisor's verdict, signals and exit code alone."""
    if outcome.killed_for:
        return outcome.killed_for
    if outcome.exit_code == 128 + 24:  # SIGXCPU: RLIMIT_CPU
        return "cpu_limit"
    return "ok" if outcome.exit_code == 0 else "error"


@dataclass
class Running:
    """A launched command and how its backend supervises, measures, classifies and ends it.

    Attributes:
        proc: The launcher process (started in a new session, stdout and stderr piped).
        kill: Kills the run's whole process tree.
        layers: The isolation layers in force (completed by ``on_exit`` if need be).
        cpu_seconds: Reads the run's total CPU time so far (e.g. from its cgroup).
        counters: Reads the run's resource counters at the end.
        on_exit: Runs once the command has ended, before the result is built.
        classify: Turns the supervisor's outcome and the counters into a reason.
        audit_extra: Backend facts added to the audit record (versions, policy hash).
        host_dir: Where the writable directory is on the host, if not at the launch's path
            (a quota tmpfs bound there); it is inventoried.
        disk_full: Says whether the run's disk quota is used up (the run is then ended: ``disk``).
        stderr: What the run wrote to stderr (capped), set before ``classify`` is called.
    """

    proc: subprocess.Popen
    kill: Callable[[], None]
    layers: dict[str, Any]
    cpu_seconds: Callable[[], float] | None = None
    counters: Callable[[], dict] = dict
    on_exit: Callable[[], None] = lambda: None
    classify: Callable[[Outcome, dict], str] = basic_reason
    audit_extra: dict[str, Any] = field(default_factory=dict)
    host_dir: Path | None = None
    disk_full: Callable[[], bool] | None = None
    stderr: bytes = b""


def complete(launch: Launch, backend: str, running: Running) -> SandboxResult:
    """The shared tail of every backend: supervise, capture, classify, inventory, audit."""
    limits = launch.policy.limits
    proc = running.proc
    out = CappedReader(proc.stdout, limits.output_bytes, launch.on_stdout_line)  # type: ignore[arg-type]
    err = CappedReader(proc.stderr, limits.output_bytes)  # type: ignore[arg-type]
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    outcome = supervise(
        proc, limits.wall_seconds, running.kill, running.cpu_seconds, limits.cpu_seconds, disk_full=running.disk_full
    )
    running.kill()  # daemons left behind by the command, if any
    out.join(5)
    err.join(5)
    running.on_exit()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    c = running.counters()
    running.stderr = err.data()
    cpu = c.get("cpu_seconds")
    if cpu is None:
        cpu = (usage.ru_utime + usage.ru_stime) - (usage_before.ru_utime + usage_before.ru_stime)
    reason = running.classify(outcome, c)
    if reason not in ("setup_failed", "timeout", "cpu_limit") and running.disk_full is not None and running.disk_full():
        reason = "disk"
    record = {
        "time": timestamp(),
        "backend": backend,
        "command": list(launch.command),
        "workdir": str(launch.workdir),
        "kernel": kernel(),
        "layers": running.layers,
        "policy": launch.policy.to_json(),
        "exit_code": outcome.exit_code,
        "reason": reason,
        "wall_seconds": round(outcome.wall_seconds, 4),
        "cpu_seconds": round(cpu, 4),
        "peak_memory_bytes": c.get("memory_peak_bytes"),
        "counters": c,
        "stdout_bytes": out.total,
        "stderr_bytes": err.total,
        "outputs": inventory(running.host_dir or launch.workdir).to_json(),
        **running.audit_extra,
    }
    if launch.audit_path is not None:
        append_audit(launch.audit_path, record)
    return SandboxResult(
        command=list(launch.command),
        backend=backend,
        exit_code=outcome.exit_code,
        reason=reason,
        wall_seconds=outcome.wall_seconds,
        cpu_seconds=cpu,
        peak_memory_bytes=c.get("memory_peak_bytes"),
        stdout=out.data(),
        stderr=err.data(),
        stdout_bytes=out.total,
        stderr_bytes=err.total,
        layers=running.layers,
        audit=record,
    )
