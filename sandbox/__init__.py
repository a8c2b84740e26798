r"""Run one command isolated: backends, limits, audit, self-check (Contract 4).

``bestiary.sandbox`` imports nothing else of Bestiary's: it runs any command.

>>> from bestiary.sandbox import run, Policy, Limits
>>> result = run(["python", "-c", "print(1)"], workdir="/tmp/job", policy=Policy(limits=Limits(wall_seconds=60)))
>>> result.reason, result.stdout
('ok', b'1\\n')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from bestiary.sandbox.backends import BACKENDS, SandboxBackend, get_backend, register_backend
from bestiary.sandbox.bwrap import BwrapBackend
from bestiary.sandbox.errors import SandboxError, SandboxUnavailable
from bestiary.sandbox.outputs import UnsafeOutputError, inventory, read_output
from bestiary.sandbox.policy import LAYERS, Limits, Policy
from bestiary.sandbox.result import REASONS, SandboxResult


def run(
    command: Sequence[str],
    workdir: Path | str,
    policy: Policy | None = None,
    *,
    backend: str = "bwrap",
    allow_unsandboxed: bool = False,
    audit_path: Path | None = None,
    on_stdout_line: Callable[[bytes], None] | None = None,
) -> SandboxResult:
    """Run ``command`` in a sandbox with ``workdir`` as its one writable directory.

    Args:
        command: Program and arguments.
        workdir: The run directory (created if missing).
        policy: Limits and required layers (default: :class:`Policy`, every layer required).
        backend: ``bwrap`` or, with ``allow_unsandboxed``, ``none``.
        allow_unsandboxed: The explicit opt-out needed for ``backend="none"``.
        audit_path: The JSONL audit log (default ``workdir/audit.jsonl``).
        on_stdout_line: Receives each line of the command's stdout as it arrives.

    Raises:
        SandboxUnavailable: If a required layer cannot be established; nothing ran.
    """
    return get_backend(backend, allow_unsandboxed=allow_unsandboxed).run(
        command, workdir, policy, audit_path, on_stdout_line
    )


__all__ = [
    "BACKENDS",
    "LAYERS",
    "REASONS",
    "BwrapBackend",
    "Limits",
    "Policy",
    "SandboxBackend",
    "SandboxError",
    "SandboxResult",
    "SandboxUnavailable",
    "UnsafeOutputError",
    "get_backend",
    "inventory",
    "read_output",
    "register_backend",
    "run",
]
