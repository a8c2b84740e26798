"""Running one of Bestiary's Python modules in the sandbox and reading back its JSON answer.

The host never runs environment dynamics, builds models or trains: commands that need
to (``bestiary envs check``, ``bestiary envs best-response``, the dry run's throughput
measurement) run a module of ours in the sandbox and parse its one JSON line of output,
bounded, as hostile input.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bestiary.errors import BestiaryError
from bestiary.sandbox import Limits, Policy, run
from bestiary.sandbox.outputs import MalformedOutputError, parse_json

MAX_ANSWER = 16 * 1024 * 1024


class SandboxedCommandError(BestiaryError):
    """A sandboxed module failed or answered something that is not bounded JSON."""


def run_module_json(
    module: str,
    args: list[str],
    *,
    sandbox: bool = True,
    backend: str = "bwrap",
    limits: Limits | None = None,
) -> Any:
    """Run ``python -m module args...`` in the sandbox and parse the last line of its stdout as JSON.

    Raises:
        SandboxUnavailable: If the sandbox cannot be established.
        SandboxedCommandError: If the module failed or its answer is not bounded JSON.
    """
    limits = limits or Limits(wall_seconds=1800, output_bytes=MAX_ANSWER)
    base = Path(tempfile.mkdtemp(prefix="bestiary-cmd-"))
    try:
        base.chmod(0o755)
        result = run(
            [sys.executable, "-m", module, *args],
            base / "work",
            Policy(limits=limits),
            backend="none" if not sandbox else backend,
            allow_unsandboxed=not sandbox,
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if not result.ok:
        tail = result.stderr.decode("utf-8", errors="replace")[-2000:]
        raise SandboxedCommandError(f"python -m {module} failed in the sandbox ({result.reason}): {tail}")
    lines = result.stdout.strip().splitlines()
    try:
        return parse_json(lines[-1] if lines else b"", max_bytes=MAX_ANSWER)
    except MalformedOutputError as exc:
        raise SandboxedCommandError(f"python -m {module} answered no valid JSON: {exc}") from exc
