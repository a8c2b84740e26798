"""The result of one sandboxed run, and its audit record (bounded, appended to a host-owned log)."""

from __future__ import annotations

import json
import os
import platform
import stat
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Why a run ended.
REASONS: tuple[str, ...] = ("ok", "error", "oom", "cpu_limit", "timeout", "pids_limit", "disk", "setup_failed")

#: An audit record is at most this large: every list in it is bounded by construction, and the
#: command line is cut if it is absurdly long.
MAX_RECORD_BYTES = 64 * 1024


@dataclass
class SandboxResult:
    """What came back from a run.

    Attributes:
        command: The command that was run inside.
        backend: The backend's name (``bwrap``, ``none``, ...).
        exit_code: The command's exit code (``128 + signal`` if it was killed).
        reason: One of :data:`REASONS`.
        wall_seconds: Wall-clock time.
        cpu_seconds: CPU time of everything the run started.
        peak_memory_bytes: Peak memory of the run (None where it could not be measured).
        stdout: Captured standard output, at most the policy's ``output_bytes``.
        stderr: Captured standard error, likewise.
        stdout_bytes: Bytes the run wrote to stdout in all (kept or not).
        stderr_bytes: Bytes written to stderr in all.
        layers: Which isolation layers were active (name → bool, or a detail string).
        audit: The audit record (appended to the audit log when one was given).
    """

    command: list[str]
    backend: str
    exit_code: int
    reason: str
    wall_seconds: float
    cpu_seconds: float
    peak_memory_bytes: int | None
    stdout: bytes
    stderr: bytes
    stdout_bytes: int
    stderr_bytes: int
    layers: dict[str, Any]
    audit: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the command exited 0 within its limits."""
        return self.reason == "ok"

    @property
    def stdout_truncated(self) -> bool:
        """Whether stdout was cut at the cap."""
        return self.stdout_bytes > len(self.stdout)

    def summary(self) -> dict[str, Any]:
        """The result without the captured output (for cards and tables)."""
        d = asdict(self)
        for k in ("stdout", "stderr", "audit"):
            d.pop(k)
        return d


def kernel() -> str:
    """``uname`` of this host, for the audit record."""
    u = platform.uname()
    return f"{u.system} {u.release} {u.version} {u.machine}"


def timestamp() -> str:
    """UTC time, ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def bounded_record(record: dict[str, Any]) -> bytes:
    """One JSONL line of at most :data:`MAX_RECORD_BYTES`; an oversized command line is cut to fit."""
    line = json.dumps(record, sort_keys=True, default=str)
    if len(line) > MAX_RECORD_BYTES:
        command = record.get("command") or []
        record = {**record, "command": [str(c)[:200] for c in command[:32]], "command_cut": True}
        line = json.dumps(record, sort_keys=True, default=str)
    if len(line) > MAX_RECORD_BYTES:  # cannot happen with the backends' records; never write an unbounded line
        line = json.dumps({"time": record.get("time"), "error": "audit record over the size bound", "size": len(line)})
    return (line + "\n").encode()


def append_audit(audit_path: Path, record: dict[str, Any]) -> None:
    """Append one record to a JSONL audit log that only the host writes.

    The log is opened append-only without following links, and refused if it is not a
    regular file: it is never read back, rewritten or truncated here.

    Raises:
        OSError: If the log cannot be appended to (e.g. it is a directory or a symlink).
    """
    audit_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(audit_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{audit_path} is not a regular file")
        os.write(fd, bounded_record(record))
    finally:
        os.close(fd)
