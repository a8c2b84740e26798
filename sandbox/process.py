"""Running a launched process to its end: capped output capture, wall-clock and CPU supervision."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO


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
) -> Outcome:
    """Wait for ``proc``, killing the whole run at the wall-clock or total-CPU limit.

    Args:
        proc: The launched process (the sandbox launcher).
        wall_seconds: Wall-clock limit.
        kill: Kills the run's whole process tree.
        cpu_seconds: Reads the run's total CPU time so far (e.g. from its cgroup).
        cpu_limit: Total CPU limit checked against ``cpu_seconds``.
        poll: Seconds between checks.
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
