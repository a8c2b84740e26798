"""The ``bwrap`` backend: bubblewrap namespaces, cgroups, rlimits, seccomp and Landlock.

Order of a run:

1. Preflight (nothing runs if a required layer fails): bubblewrap present; the writable
   directory acceptable (:func:`~bestiary.sandbox.base.prepare_workdir`); every read-only
   bind readable by the sandbox uid; the seccomp program compiles; Landlock supported;
   the cgroup created with its limits.
2. The command line is built by :class:`BwrapCommand`, which adds each descriptor and
   the argument naming it in one call, so argv, descriptors and environment cannot drift.
3. ``bwrap`` starts with an empty environment, in a new session, from a child that joins
   the cgroup, sets the rlimits, drops to the unprivileged uid (when the launcher is
   root) and asks to be killed if the launcher dies. Inside, bubblewrap builds the mount
   namespace — the runtime's read-only view, hidden paths, the one writable directory, a
   size-capped ``/tmp``, the root remounted read-only — loads the seccomp program and
   runs ``_inner.py``, which applies Landlock and execs the command.
4. The host supervises (wall clock, total CPU), kills the cgroup's every process at the
   end, classifies the outcome, inventories the directory and writes the audit record.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

from bestiary.sandbox import landlock, quota, view
from bestiary.sandbox.base import (
    Launch,
    ensure_available,
    register_backend,
)
from bestiary.sandbox.cgroups import Cgroup
from bestiary.sandbox.errors import SandboxUnavailable
from bestiary.sandbox.isolating import IsolatingBackend
from bestiary.sandbox.outputs import MalformedOutputError, parse_json
from bestiary.sandbox.policy import MIB, Limits, Policy, apply_rlimits, policy_hash, rlimits
from bestiary.sandbox.process import Running, kill_process_group
from bestiary.sandbox.result import SandboxResult
from bestiary.sandbox.seccomp_filter import SeccompUnavailableError, build_bpf

INNER = Path(__file__).with_name("_inner.py")
SETUP_FAILED = 125
_PR_SET_PDEATHSIG = 1


class BwrapCommand:
    """A bubblewrap command line and the descriptors it names, built together.

    Every method that passes data through a descriptor creates the descriptor and adds
    the argument naming it in one call (as flatpak's ``flatpak_bwrap_add_args_data_fd``
    does), so the two cannot drift apart. :meth:`close` closes the host's copies.
    """

    def __init__(self, bwrap: str) -> None:
        self.argv: list[str] = [bwrap]
        self.fds: list[int] = []

    def args(self, *args: str) -> BwrapCommand:
        """Plain arguments."""
        self.argv += args
        return self

    def ro_bind(self, path: str, dest: str | None = None) -> BwrapCommand:
        """Bind a host path read-only (at the same path by default)."""
        return self.args("--ro-bind", path, dest or path)

    def bind(self, path: str, dest: str | None = None) -> BwrapCommand:
        """Bind a host path read-write."""
        return self.args("--bind", path, dest or path)

    def hide(self, path: str) -> BwrapCommand:
        """Put an empty directory over ``path`` (a tiny tmpfs; Landlock keeps it unwritable)."""
        return self.args("--perms", "0555", "--size", "65536", "--tmpfs", path)

    def data_file(self, data: bytes, dest: str) -> BwrapCommand:
        """A read-only file with ``data`` at ``dest``, passed through a pipe."""
        r, w = os.pipe()
        os.write(w, data)
        os.close(w)
        self.fds.append(r)
        return self.args("--ro-bind-data", str(r), dest)

    def seccomp(self, bpf: bytes) -> BwrapCommand:
        """Load a compiled seccomp program (through a memfd)."""
        fd = os.memfd_create("bestiary-seccomp", 0)
        os.write(fd, bpf)
        os.lseek(fd, 0, os.SEEK_SET)
        self.fds.append(fd)
        return self.args("--seccomp", str(fd))

    def setenv(self, env: dict[str, str]) -> BwrapCommand:
        """Set environment variables inside (the launcher's own are cleared)."""
        for k, v in sorted(env.items()):
            self.args("--setenv", k, v)
        return self

    def pass_fd(self, fd: int) -> int:
        """Keep a descriptor open across the exec (e.g. a status pipe the inner launcher writes to)."""
        self.fds.append(fd)
        return fd

    def close(self) -> None:
        """Close the host's copies of every descriptor passed."""
        for fd in self.fds:
            os.close(fd)
        self.fds = []


def _unreadable_by(uid: int, paths: list[str]) -> list[str]:
    """Paths that ``uid`` cannot reach and read (checked in a child that switched to ``uid``)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: become uid, test, report, exit without cleanup
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            bad = [p for p in paths if not os.access(p, os.R_OK | (os.X_OK if os.path.isdir(p) else 0))]
            os.write(w, json.dumps(bad).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data) if data else list(paths)


def _child_setup(cgroup: Cgroup | None, limits: dict[int, int], uid: int | None) -> None:
    """preexec_fn: join the cgroup, set rlimits, drop root, die with the launcher."""
    if cgroup is not None:
        cgroup.join(os.getpid())
    apply_rlimits(limits)
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    # After the uid change, which would clear it: die if the launcher dies (kill -9 of a sweep).
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def mount_view(cmd: BwrapCommand, policy: Policy, workdir: Path, ro: list[str], host_dir: Path | None = None) -> None:
    """The filesystem the command sees: the read-only view, hidden paths, ``/tmp``, the one writable directory."""
    for link in view.MERGED_USR_LINKS:
        if os.path.islink(link):
            cmd.args("--symlink", os.readlink(link), link)
        elif os.path.isdir(link):
            cmd.ro_bind(link)
    cmd.args("--proc", "/proc", "--dev", "/dev", "--size", str(policy.limits.tmp_mb * MIB), "--tmpfs", "/tmp")
    for path in sorted(set(ro)):
        cmd.ro_bind(path)
    for path in sorted(set(policy.hide)):
        if any(view.within(path, r) for r in ro):  # elsewhere it is not visible anyway
            cmd.hide(path)
    cmd.bind(str(host_dir or workdir), str(workdir))


@register_backend
class BwrapBackend(IsolatingBackend):
    """bubblewrap with cgroups, rlimits, seccomp and Landlock. See the module docstring."""

    name = "bwrap"
    summary = "bubblewrap namespaces + cgroups + rlimits + seccomp + Landlock (shares the host kernel)"
    provides = frozenset({"namespaces", "drop_root", "cgroup", "rlimits", "seccomp", "landlock", "disk_quota"})

    def process_limits(self, limits: Limits) -> tuple[int, int]:
        """The run's own limit is its cgroup's ``pids.max``; ``RLIMIT_NPROC`` stays the launcher's.

        ``RLIMIT_NPROC`` counts the processes of a uid across every run of it, so a run that held many
        threads (within its own cgroup limit) would leave a concurrent run too few to fork. It is set to
        ``pids`` + 64 only when no cgroup can be made (the policy then does not require one).
        """
        return limits.pids, resource.getrlimit(resource.RLIMIT_NPROC)[1]

    def unavailable(self) -> str | None:
        """Why bubblewrap cannot run here (None if it can)."""
        if shutil.which("bwrap") is None:
            return "bubblewrap (bwrap) is not installed; install it: apt-get install bubblewrap"
        return None

    def run(self, launch: Launch) -> SandboxResult:
        """Run the launch in the sandbox; see :meth:`SandboxBackend.run`."""
        ready = self.preflight(launch)
        launch, uid, ro = ready.launch, ready.uid, ready.ro
        policy, req = launch.policy, launch.policy.required
        layers: dict[str, object] = {"namespaces": True, "drop_root": uid is not None or os.geteuid() != 0}
        if uid is not None:
            bad = _unreadable_by(uid, [*ro, str(INNER), str(launch.workdir.parent)])
            if bad:
                raise SandboxUnavailable(
                    f"drop_root: uid {uid} cannot read {', '.join(bad)}, which the sandbox needs. The Python "
                    f"runtime, its packages and the run directory's parent must be readable by that uid: create "
                    f"the virtualenv from a Python every uid can read (e.g. `rm -rf .venv && "
                    f"PYTHON=/usr/bin/python3 bash scripts/setup.sh`), or make those paths and their parents "
                    f"world-readable (chmod o+rx)."
                )
        try:
            bpf = build_bpf()
            layers["seccomp"] = True
        except SeccompUnavailableError as exc:
            ensure_available(False, "seccomp", req, str(exc))
            bpf, layers["seccomp"] = b"", False
        abi = landlock.abi_version()
        ensure_available(abi > 0, "landlock", req, "this kernel does not support Landlock (or it is disabled)")
        layers["rlimits"] = True
        cgroup = self.limit_group(f"run-{uuid.uuid4().hex[:16]}", policy, layers)
        try:
            with quota.for_run(launch.workdir, policy, uid, layers) as host_dir:
                return self._launch(launch, uid, ro, bpf, abi, cgroup, layers, host_dir)
        finally:
            if cgroup is not None:
                cgroup.remove()

    def command(
        self,
        launch: Launch,
        uid: int | None,
        ro: list[str],
        bpf: bytes,
        abi: int,
        status_w: int,
        host_dir: Path | None = None,
    ) -> BwrapCommand:
        """The bubblewrap command line (and its descriptors) for a launch."""
        policy, workdir = launch.policy, launch.workdir
        cmd = BwrapCommand(shutil.which("bwrap") or "bwrap")
        cmd.args(
            "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup",
            "--disable-userns", "--die-with-parent", "--new-session", "--clearenv", "--cap-drop", "ALL",
            "--hostname", "sandbox",
        )  # fmt: skip
        run_uid = uid if uid is not None else os.getuid()
        mount_view(cmd, policy, workdir, ro, host_dir)
        cmd.data_file(f"sandbox:x:{run_uid}:{run_uid}:sandbox:/tmp:/usr/sbin/nologin\n".encode(), "/etc/passwd")
        cmd.args("--remount-ro", "/", "--chdir", str(workdir))
        cmd.setenv(view.environment(policy))
        if bpf:
            cmd.seccomp(bpf)
        landlock_mode = "required" if "landlock" in (policy.required or ()) else ("auto" if abi else "off")
        inner = {
            "writable": [str(workdir), "/tmp", "/dev"],
            "landlock": landlock_mode,
            "status_fd": cmd.pass_fd(status_w),
        }
        cmd.args("--", sys.executable, "-I", "-S", str(INNER), json.dumps(inner), "--", *launch.command)
        return cmd

    def _launch(
        self,
        launch: Launch,
        uid: int | None,
        ro: list[str],
        bpf: bytes,
        abi: int,
        cgroup: Cgroup | None,
        layers: dict,
        host_dir: Path | None,
    ) -> SandboxResult:
        status_r, status_w = os.pipe()
        cmd = self.command(launch, uid, ro, bpf, abi, status_w, host_dir)
        layers["policy_sha256"] = policy_hash(cmd.argv, launch.policy, bpf)
        limits = rlimits(launch.policy.limits)
        if cgroup is not None:  # its pids.max is this run's own limit; RLIMIT_NPROC counts every run of the uid
            limits.pop(resource.RLIMIT_NPROC)
        try:
            proc = subprocess.Popen(
                cmd.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={},
                cwd="/",
                start_new_session=True,
                pass_fds=tuple(cmd.fds),
                preexec_fn=lambda: _child_setup(cgroup, limits, uid),
            )
        finally:
            cmd.close()
        status = _PipeText(status_r)
        inner: dict = {}

        def on_exit() -> None:
            inner.update(status.first_json())
            layers["landlock"] = f"abi {inner['landlock_abi']}" if inner.get("landlock_abi") else False

        def kill() -> None:
            if cgroup is not None:
                cgroup.kill()
            kill_process_group(proc)

        running = Running(
            proc,
            kill,
            layers,
            on_exit=on_exit,
            audit_extra={"policy_sha256": layers["policy_sha256"]},
            **self.supervision(cgroup, host_dir),
        )
        # The inner launcher reports just before it execs the command: no report means bwrap failed while
        # setting up, and the command never started.
        return self.finish(
            launch,
            running,
            lambda outcome: not inner or (outcome.exit_code == SETUP_FAILED and bool(inner.get("error"))),
            lambda: inner.get("error"),
        )


class _PipeText:
    """Collects a small pipe's content in a thread (the run may never write to it)."""

    def __init__(self, fd: int) -> None:
        self._data = b""
        self._fd = fd
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with os.fdopen(self._fd, "rb") as f:
            self._data = f.read(1 << 20)

    def first_json(self) -> dict:
        self._thread.join(5)
        try:  # written from inside the sandbox: parsed as hostile input
            data = parse_json(self._data.split(b"\n", 1)[0], max_bytes=4096)
        except MalformedOutputError:
            return {}
        return data if isinstance(data, dict) else {}
