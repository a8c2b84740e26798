"""The ``none`` backend: no isolation at all, only rlimits, the timeout and the audit. An explicit opt-out."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import warnings

from bestiary.sandbox.base import Launch, SandboxBackend, prepare_workdir, register_backend
from bestiary.sandbox.policy import apply_rlimits, rlimits
from bestiary.sandbox.process import Running, complete, kill_process_group
from bestiary.sandbox.result import SandboxResult
from bestiary.sandbox.view import sandbox_pythonpath


@register_backend
class NoSandbox(SandboxBackend):
    """No isolation: the command runs as the caller, with the caller's view of the host."""

    name = "none"
    summary = "no isolation (explicit opt-out): rlimits, timeout and audit only"
    provides = frozenset({"rlimits"})

    def run(self, launch: Launch) -> SandboxResult:
        """Run the command directly, warning that it is not isolated."""
        workdir = prepare_workdir(launch.workdir, None)
        warnings.warn(
            "running WITHOUT a sandbox (--no-sandbox): the command can reach everything you can", stacklevel=2
        )
        print("bestiary: WARNING: running without a sandbox (--no-sandbox)", file=sys.stderr)
        limits = rlimits(launch.policy.limits)
        limits.pop(resource.RLIMIT_NPROC)  # per uid: would count the host user's own processes
        env = dict(os.environ)
        if sandbox_pythonpath():
            env["PYTHONPATH"] = sandbox_pythonpath()
        env.update(dict(launch.policy.env))
        proc = subprocess.Popen(
            list(launch.command),
            cwd=workdir,
            env=env,
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
        running = Running(proc, lambda: kill_process_group(proc), layers, audit_extra={"unsandboxed": True})
        return complete(launch, self.name, running)
