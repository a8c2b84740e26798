"""The result of one sandboxed run, and its append-only audit record."""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bestiary.sandbox.outputs import UnsafeOutputError, read_output

#: Why a run ended.
REASONS: tuple[str, ...] = ("ok", "error", "oom", "cpu_limit", "timeout", "pids_limit", "setup_failed")


@dataclass
class SandboxResult:
    """What came back from a run.

    Attributes:
        command: The command that was run inside.
        backend: ``bwrap`` or ``none``.
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
        audit: The audit record appended to the audit log.
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


def append_audit(audit_path: Path, record: dict[str, Any], previous: bytes | None) -> bool:
    """Append ``record`` to the JSONL audit log, keeping only what the host wrote before.

    The log may sit in the run's writable directory, so the run could have edited it:
    the host rewrites it as ``previous`` (its content before the run, read by the host)
    plus the new line, replacing the file by an atomic rename (which replaces a planted
    symlink rather than following it).

    Args:
        audit_path: The log file.
        record: The new record.
        previous: The log's bytes before the run (None if it did not exist).

    Returns:
        True if the run had changed the log (recorded as ``audit_tampered``).
    """
    try:
        now = read_output(audit_path.parent, audit_path.name)
    except (UnsafeOutputError, FileNotFoundError):
        now = None
    except OSError:
        now = b"<unreadable>"
    tampered = now != previous
    record["audit_tampered"] = tampered
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
    fd, tmp = tempfile.mkstemp(dir=audit_path.parent, prefix=".audit-")
    with os.fdopen(fd, "wb") as f:
        f.write((previous or b"") + line)
    os.replace(tmp, audit_path)
    return tampered


def read_previous_audit(audit_path: Path) -> bytes | None:
    """The audit log's bytes as the host left them (None if absent or not a plain file)."""
    try:
        return read_output(audit_path.parent, audit_path.name)
    except (UnsafeOutputError, FileNotFoundError):
        return None


def timestamp() -> str:
    """UTC time, ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
