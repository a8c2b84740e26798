r"""Run one command isolated: backends, limits, audit, self-check (Contract 4).

``bestiary.sandbox`` imports nothing else of Bestiary's: it runs any command.

>>> from bestiary.sandbox import run, Policy, Limits
>>> result = run(["python", "-c", "print(1)"], workdir="/tmp/job", policy=Policy(limits=Limits(wall_seconds=60)))
>>> result.reason, result.stdout
('ok', b'1\\n')
"""

from __future__ import annotations

from bestiary.sandbox.base import (
    BACKENDS,
    Launch,
    SandboxBackend,
    backend_names,
    get_backend,
    prepare_workdir,
    register_backend,
    run,
)
from bestiary.sandbox.bwrap import BwrapBackend
from bestiary.sandbox.errors import SandboxError, SandboxUnavailable
from bestiary.sandbox.gvisor import GvisorBackend
from bestiary.sandbox.none import NoSandbox
from bestiary.sandbox.outputs import (
    MalformedOutputError,
    UnsafeOutputError,
    inventory,
    parse_json,
    read_json,
    read_output,
)
from bestiary.sandbox.policy import LAYERS, Limits, Policy
from bestiary.sandbox.result import REASONS, SandboxResult

__all__ = [
    "BACKENDS",
    "LAYERS",
    "REASONS",
    "BwrapBackend",
    "GvisorBackend",
    "Launch",
    "Limits",
    "MalformedOutputError",
    "NoSandbox",
    "Policy",
    "SandboxBackend",
    "SandboxError",
    "SandboxResult",
    "SandboxUnavailable",
    "UnsafeOutputError",
    "backend_names",
    "get_backend",
    "inventory",
    "parse_json",
    "prepare_workdir",
    "read_json",
    "read_output",
    "register_backend",
    "run",
]
