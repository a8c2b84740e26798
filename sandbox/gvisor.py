"""The ``gvisor`` backend: the run gets a kernel of its own — gVisor's ``runsc`` — between it and the host's.

With bubblewrap every system call the filter allows reaches the host kernel. Under gVisor
the run's system calls are served by the Sentry, a kernel written in Go that runs as an
ordinary sandboxed process, and only a small, fixed set of host calls is made on its
behalf: a kernel bug reachable from the run is then a bug of gVisor's, not of the host's.

The policy is the bubblewrap backend's where it applies: an OCI bundle built per run
gives a read-only root of nothing but the runtime's view (``/usr``, the interpreter, the
installed packages' sources), hidden paths, a size-capped ``/tmp``, the one writable
directory (a quota tmpfs), no network (``--network=none``), the unprivileged uid with no
capabilities and ``no_new_privileges``, the rlimits, and a cgroup created and read by the
host for the memory, process and CPU limits and counters. Reasons and the audit record are
the same as bubblewrap's; the record adds runsc's version and platform. It needs root
(runsc creates the sandbox) and the ``runsc`` program (Debian: ``apt-get install runsc``).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import tempfile
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from bestiary.sandbox import quota, view
from bestiary.sandbox.base import Launch, register_backend
from bestiary.sandbox.cgroups import PARENT, Cgroup
from bestiary.sandbox.isolating import IsolatingBackend
from bestiary.sandbox.policy import MIB, Limits, Policy, policy_hash, rlimits
from bestiary.sandbox.process import Running, kill_process_group
from bestiary.sandbox.result import SandboxResult
from bestiary.sandbox.seccomp_filter import oci_profile

#: runsc's exit status when it could not create or start the container (the command never ran).
SETUP_FAILED = 128
_RLIMIT_NAMES = {
    resource.RLIMIT_CPU: "RLIMIT_CPU",
    resource.RLIMIT_FSIZE: "RLIMIT_FSIZE",
    resource.RLIMIT_NOFILE: "RLIMIT_NOFILE",
    resource.RLIMIT_NPROC: "RLIMIT_NPROC",
    resource.RLIMIT_CORE: "RLIMIT_CORE",
    resource.RLIMIT_AS: "RLIMIT_AS",
}


@cache
def runsc_version() -> str:
    """``runsc --version``'s first line ('' if runsc is missing)."""
    runsc = shutil.which("runsc")
    if runsc is None:
        return ""
    try:
        out = subprocess.run([runsc, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (out.stdout.splitlines() or [""])[0].strip()


#: Host threads gVisor's own processes (Sentry, gofer) need besides the run's: the host cgroup's process
#: limit is this much above the policy's, which gVisor enforces on the run's tasks itself.
SENTRY_THREADS = 512


def _process_limits(limits: Limits) -> tuple[int, int]:
    """(cgroup ``pids.max``, ``RLIMIT_NPROC``): the run's limit is gVisor's own; the cgroup also holds the Sentry."""
    return limits.pids + SENTRY_THREADS, limits.pids


def _rlimits(limits: Limits) -> dict[int, int]:
    """The run's rlimits inside gVisor: as bubblewrap's, with the process limit the policy's own (tight)."""
    out = rlimits(limits)
    out[resource.RLIMIT_NPROC] = _process_limits(limits)[1]
    return out


def _bind(source: str, dest: str, writable: bool = False) -> dict[str, Any]:
    return {"destination": dest, "type": "bind", "source": source, "options": ["rbind", "rw" if writable else "ro"]}


def _make_point(rootfs: Path, dest: str, is_dir: bool) -> None:
    """Create ``dest``'s mount point inside the (host-owned, read-only) root."""
    target = rootfs / dest.lstrip("/")
    if is_dir:
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch(exist_ok=True)


def bundle(
    directory: Path, launch: Launch, policy: Policy, uid: int, ro: list[str], host_dir: Path, cgroup_path: str
) -> dict[str, Any]:
    """Write the OCI bundle of a run into ``directory`` (``rootfs/`` and ``config.json``); return the config."""
    rootfs = directory / "rootfs"
    rootfs.mkdir(parents=True)
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "passwd").write_text(f"sandbox:x:{uid}:{uid}:sandbox:/tmp:/usr/sbin/nologin\n")
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", f"size={policy.limits.tmp_mb * MIB}"]},
    ]  # fmt: skip
    for link in view.MERGED_USR_LINKS:
        if os.path.islink(link):
            (rootfs / link.lstrip("/")).symlink_to(os.readlink(link))
        elif os.path.isdir(link):
            ro.append(link)
    for path in sorted(set(ro)):
        _make_point(rootfs, path, os.path.isdir(path))
        mounts.append(_bind(path, path))
    for path in sorted(set(policy.hide)):
        if any(view.within(path, r) for r in ro):
            mounts.append({"destination": path, "type": "tmpfs", "source": "tmpfs", "options": ["ro", "size=65536"]})
    _make_point(rootfs, str(launch.workdir), True)
    mounts.append(_bind(str(host_dir), str(launch.workdir), writable=True))
    limits = policy.limits
    config = {
        "ociVersion": "1.0.0",
        "process": {
            "terminal": False,
            "user": {"uid": uid, "gid": uid},
            "args": list(launch.command),
            "env": [f"{k}={v}" for k, v in sorted(view.environment(policy).items())],
            "cwd": str(launch.workdir),
            "capabilities": {k: [] for k in ("bounding", "effective", "inheritable", "permitted", "ambient")},
            "rlimits": [{"type": _RLIMIT_NAMES[k], "hard": v, "soft": v} for k, v in _rlimits(limits).items()],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "sandbox",
        "mounts": mounts,
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "resources": {  # the process limit is gVisor's own (RLIMIT_NPROC): see _rlimits
                "memory": {"limit": limits.memory_mb * MIB},
                "cpu": {"quota": max(int(limits.cpus * 100_000), 1000), "period": 100_000},
            },
            "cgroupsPath": cgroup_path,
            "seccomp": oci_profile(),  # the same syscall policy as under bwrap, applied by gVisor's kernel
        },
    }
    (directory / "config.json").write_text(json.dumps(config, indent=1))
    return config


@register_backend
class GvisorBackend(IsolatingBackend):
    """gVisor's runsc with a private read-only root, cgroups, rlimits and a quota tmpfs. See the module docstring."""

    name = "gvisor"
    label = "gVisor sandbox"
    summary = "gVisor (runsc): a user-space kernel between the run and the host kernel; cgroups, rlimits, quota"
    provides = frozenset({"namespaces", "drop_root", "cgroup", "rlimits", "disk_quota", "user_space_kernel", "seccomp"})

    def process_limits(self, limits: Limits) -> tuple[int, int]:
        """The run's limit is gVisor's own (``RLIMIT_NPROC``); the host cgroup also holds the Sentry's threads."""
        return _process_limits(limits)

    def unavailable(self) -> str | None:
        """Why runsc cannot run here (None if it can)."""
        if shutil.which("runsc") is None:
            return "gVisor's runsc is not installed; install it: apt-get install runsc"
        if os.geteuid() != 0:
            return "the gvisor backend needs a root launcher (runsc creates the sandbox and its cgroup)"
        return None

    def run_uid(self, policy: Policy) -> int | None:
        """The policy's uid: runsc always runs the command as it (the launcher is root)."""
        return policy.uid

    def run(self, launch: Launch) -> SandboxResult:
        """Run the launch under runsc; see :meth:`SandboxBackend.run`."""
        ready = self.preflight(launch)
        launch, ro = ready.launch, ready.ro
        policy, uid = launch.policy, launch.policy.uid  # runsc always runs the command as the policy's uid
        name = f"run-{uuid.uuid4().hex[:16]}"
        layers: dict[str, object] = {
            "namespaces": True,
            "drop_root": True,
            "rlimits": True,
            "user_space_kernel": f"gVisor {runsc_version()}",
            "seccomp": "oci",  # the project's filter, applied by gVisor's kernel (runsc --oci-seccomp)
        }
        cgroup = self.limit_group(name, policy, layers)
        work = Path(tempfile.mkdtemp(prefix="bestiary-gvisor-"))  # host-owned, 0700: the bundle and runsc's state
        try:
            with quota.for_run(launch.workdir, policy, uid, layers) as host_dir:
                bundle_dir = host_dir or launch.workdir
                config = bundle(work / "bundle", launch, policy, uid, ro, bundle_dir, f"/{PARENT}/{name}")
                return self._launch(launch, work, name, config, cgroup, layers, host_dir)
        finally:
            self._delete(work, name)
            shutil.rmtree(work, ignore_errors=True)
            if cgroup is not None:
                cgroup.remove()

    @staticmethod
    def _runsc(work: Path) -> list[str]:
        return [shutil.which("runsc") or "runsc", "--root", str(work / "state"), "--network=none"]

    def _delete(self, work: Path, name: str) -> None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([*self._runsc(work), "delete", "-force", name], capture_output=True, timeout=60)

    def _launch(
        self,
        launch: Launch,
        work: Path,
        name: str,
        config: dict[str, Any],
        cgroup: Cgroup | None,
        layers: dict,
        host_dir: Path | None,
    ) -> SandboxResult:
        argv = [*self._runsc(work), "--oci-seccomp", "run", "--bundle", str(work / "bundle"), name]
        layers["policy_sha256"] = policy_hash([*argv, json.dumps(config, sort_keys=True)], launch.policy)
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            cwd="/",
            start_new_session=True,
        )

        def kill() -> None:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run([*self._runsc(work), "kill", "--all", name, "KILL"], capture_output=True, timeout=30)
            if cgroup is not None:
                cgroup.kill()
            kill_process_group(proc)

        running = Running(
            proc,
            kill,
            layers,
            audit_extra={"policy_sha256": layers["policy_sha256"], "runsc": runsc_version(), "platform": "ptrace"},
            **self.supervision(cgroup, host_dir),
        )
        # runsc exits 128 with "running container: ..." when it could not create or start the sandbox.
        return self.finish(
            launch, running, lambda o: o.exit_code == SETUP_FAILED and b"running container" in running.stderr[-4096:]
        )


__all__ = ["GvisorBackend", "bundle", "runsc_version"]
