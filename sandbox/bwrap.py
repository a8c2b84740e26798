"""The ``bwrap`` backend: bubblewrap namespaces, cgroups, rlimits, seccomp and Landlock.

Order of a run:

1. Preflight (nothing runs if a required layer fails): bubblewrap present; every
   read-only bind readable by the sandbox uid; the seccomp program compiles; Landlock
   supported; the cgroup created with its limits.
2. Launch ``bwrap`` with an empty environment, in a new session, from a child that joins
   the cgroup, sets the rlimits, drops to the unprivileged uid (when the launcher is
   root) and asks to be killed if the launcher dies.
3. Inside, bubblewrap builds the mount namespace (read-only binds, one writable run
   directory, a size-capped ``/tmp``, the root remounted read-only), loads the seccomp
   program and runs ``_inner.py``, which applies Landlock and execs the command.
4. The host supervises (wall clock, total CPU), kills the cgroup's every process at the
   end, classifies the outcome, hashes the outputs and appends the audit record.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from bestiary.sandbox import landlock
from bestiary.sandbox.backends import (
    AUDIT_FILE,
    SandboxBackend,
    apply_rlimits,
    basic_reason,
    ensure_available,
    finish,
    register_backend,
    rlimits,
    sandbox_uid_for,
)
from bestiary.sandbox.cgroups import Cgroup, CgroupUnavailableError, create_cgroup
from bestiary.sandbox.errors import SandboxUnavailable
from bestiary.sandbox.policy import MIB, Policy, policy_hash
from bestiary.sandbox.process import kill_process_group
from bestiary.sandbox.result import SandboxResult, read_previous_audit
from bestiary.sandbox.seccomp_filter import SeccompUnavailableError, build_bpf

INNER = Path(__file__).with_name("_inner.py")
SETUP_FAILED = 125
_PR_SET_PDEATHSIG = 1

#: Host paths the sandbox always sees read-only (if they exist): the system's programs
#: and libraries, and the dynamic linker's cache. Nothing else of /etc is bound.
SYSTEM_BINDS = ("/usr", "/etc/ld.so.cache", "/etc/alternatives")
MERGED_USR_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def project_root() -> Path:
    """The folder holding the installed ``bestiary`` (the source tree for an editable install)."""
    return Path(__file__).resolve().parents[1]


def runtime_binds() -> list[str]:
    """What a Python job needs: the interpreter's prefix, the virtualenv, and the project."""
    paths = {
        os.path.realpath(sys.base_prefix),
        os.path.realpath(sys.prefix),
        str(project_root()),
        os.path.dirname(os.path.realpath(sys.executable)),
    }
    return sorted(paths)


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


def _drop_and_exec_setup(cgroup: Cgroup | None, limits: dict[int, int], uid: int | None) -> None:
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


@register_backend
class BwrapBackend(SandboxBackend):
    """bubblewrap with cgroups, rlimits, seccomp and Landlock. See the module docstring."""

    name = "bwrap"

    def run(
        self,
        command: Sequence[str],
        workdir: Path | str,
        policy: Policy | None = None,
        audit_path: Path | None = None,
        on_stdout_line: Callable[[bytes], None] | None = None,
    ) -> SandboxResult:
        """Run ``command`` in the sandbox; see :meth:`SandboxBackend.run`."""
        policy = policy or Policy()
        req = policy.required
        workdir = Path(workdir).absolute()
        if workdir.is_symlink():
            raise SandboxUnavailable(f"the run directory {workdir} is a symlink; give a real directory")
        workdir.mkdir(parents=True, exist_ok=True)
        workdir = workdir.resolve()
        audit_path = audit_path or workdir / AUDIT_FILE
        previous_audit = read_previous_audit(audit_path)

        # 1. Preflight.
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed; install it: apt-get install bubblewrap")
        uid = sandbox_uid_for(policy)
        layers: dict[str, object] = {"namespaces": True, "drop_root": uid is not None or os.geteuid() != 0}
        ro = [p for p in SYSTEM_BINDS if os.path.exists(p)] + runtime_binds() + list(policy.ro_binds)
        if uid is not None:
            bad = _unreadable_by(uid, [*ro, str(INNER), str(workdir.parent)])
            if bad:
                raise SandboxUnavailable(
                    f"drop_root: uid {uid} cannot read {', '.join(bad)}, which the sandbox needs. The Python "
                    f"runtime, its packages and the project must be readable by that uid: create the virtualenv "
                    f"from a Python every uid can read (e.g. `rm -rf .venv && PYTHON=/usr/bin/python3 bash "
                    f"scripts/setup.sh`), or make those paths and their parents world-readable (chmod o+rx)."
                )
            os.chown(workdir, uid, uid)
            for dirpath, dirnames, filenames in os.walk(workdir):
                for name in dirnames + filenames:
                    p = os.path.join(dirpath, name)
                    if p != str(audit_path):
                        os.lchown(p, uid, uid)
        try:
            bpf = build_bpf()
            layers["seccomp"] = True
        except SeccompUnavailableError as exc:
            ensure_available(False, "seccomp", req, str(exc))
            bpf, layers["seccomp"] = b"", False
        abi = landlock.abi_version()
        ensure_available(abi > 0, "landlock", req, "this kernel does not support Landlock (or it is disabled)")
        limits = rlimits(policy.limits)
        layers["rlimits"] = True
        run_id = uuid.uuid4().hex[:16]
        cgroup: Cgroup | None = None
        try:
            cgroup = create_cgroup(
                f"run-{run_id}", policy.limits.memory_mb * MIB, policy.limits.pids, policy.limits.cpus
            )
            layers["cgroup"] = f"v{cgroup.version}"
        except CgroupUnavailableError as exc:
            ensure_available(False, "cgroup", req, str(exc))
            layers["cgroup"] = False

        try:
            return self._launch(
                command,
                workdir,
                policy,
                audit_path,
                previous_audit,
                bwrap,
                uid,
                ro,
                bpf,
                abi,
                limits,
                cgroup,
                layers,
                on_stdout_line,
            )
        finally:
            if cgroup is not None:
                cgroup.remove()

    def _launch(
        self,
        command: Sequence[str],
        workdir: Path,
        policy: Policy,
        audit_path: Path,
        previous_audit: bytes | None,
        bwrap: str,
        uid: int | None,
        ro: list[str],
        bpf: bytes,
        abi: int,
        limits: dict[int, int],
        cgroup: Cgroup | None,
        layers: dict,
        on_stdout_line: Callable[[bytes], None] | None,
    ) -> SandboxResult:
        fds: list[int] = []
        try:
            seccomp_fd = None
            if bpf:
                seccomp_fd = os.memfd_create("bestiary-seccomp", 0)
                os.write(seccomp_fd, bpf)
                os.lseek(seccomp_fd, 0, os.SEEK_SET)
                fds.append(seccomp_fd)
            status_r, status_w = os.pipe()
            passwd_r, passwd_w = os.pipe()
            fds += [status_w, passwd_r]
            run_uid = uid if uid is not None else os.getuid()
            os.write(passwd_w, f"sandbox:x:{run_uid}:{run_uid}:sandbox:/tmp:/usr/sbin/nologin\n".encode())
            os.close(passwd_w)
            landlock_mode = "required" if "landlock" in policy.required else ("auto" if abi else "off")
            inner_config = {
                "writable": [str(workdir), "/tmp", "/dev"],
                "landlock": landlock_mode,
                "status_fd": status_w,
            }
            argv = self._argv(bwrap, command, workdir, policy, ro, seccomp_fd, passwd_r, inner_config)
            layers["policy_sha256"] = policy_hash(argv, policy, bpf)
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={},
                cwd="/",
                start_new_session=True,
                pass_fds=tuple(fds),
                preexec_fn=lambda: _drop_and_exec_setup(cgroup, limits, uid),
            )
        finally:
            for fd in fds:
                os.close(fd)
        status = _PipeText(status_r)
        inner: dict = {}

        def on_exit() -> None:
            inner.update(status.first_json())
            layers["landlock"] = f"abi {inner['landlock_abi']}" if inner.get("landlock_abi") else False

        def kill() -> None:
            if cgroup is not None:
                cgroup.kill()
            kill_process_group(proc)

        def classify(outcome, counters: dict) -> str:  # type: ignore[no-untyped-def]
            # The inner launcher reports just before it execs the command: no report means
            # bwrap failed while setting up, and the command never started.
            if not inner or (outcome.exit_code == SETUP_FAILED and inner.get("error")):
                return "setup_failed"
            if outcome.killed_for:
                return outcome.killed_for
            if counters.get("oom_kills"):
                return "oom"
            if outcome.exit_code != 0 and counters.get("pids_limit_hits"):
                return "pids_limit"
            return basic_reason(outcome, counters)

        result = finish(
            command,
            self.name,
            policy,
            workdir,
            audit_path,
            previous_audit,
            proc,
            kill,
            cgroup.cpu_seconds if cgroup else None,
            cgroup.counters if cgroup else dict,
            layers,
            {"policy_sha256": layers["policy_sha256"]},
            classify,
            on_exit,
            on_stdout_line,
        )
        if result.reason == "setup_failed":
            why = inner.get("error") or result.stderr.decode(errors="replace").strip() or "bwrap did not start"
            exc = SandboxUnavailable(f"the sandbox could not be set up, so nothing was run: {why}")
            exc.result = result  # type: ignore[attr-defined]
            raise exc
        return result

    @staticmethod
    def _argv(
        bwrap: str,
        command: Sequence[str],
        workdir: Path,
        policy: Policy,
        ro: list[str],
        seccomp_fd: int | None,
        passwd_fd: int,
        inner_config: dict,
    ) -> list[str]:
        a = [
            bwrap,
            "--unshare-user",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            "--cap-drop",
            "ALL",
            "--hostname",
            "sandbox",
        ]
        for link in MERGED_USR_LINKS:
            if os.path.islink(link):
                a += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                a += ["--ro-bind", link, link]
        a += ["--proc", "/proc", "--dev", "/dev", "--size", str(policy.limits.tmp_mb * MIB), "--tmpfs", "/tmp"]
        a += ["--ro-bind-data", str(passwd_fd), "/etc/passwd"]
        for path in sorted(set(ro)):
            a += ["--ro-bind", path, path]
        a += ["--bind", str(workdir), str(workdir), "--remount-ro", "/", "--chdir", str(workdir)]
        venv_bin = os.path.join(sys.prefix, "bin")
        env = {
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
            **{k: os.environ[k] for k in policy.env_allowlist if k in os.environ},
            **dict(policy.env),
        }
        for k, v in sorted(env.items()):
            a += ["--setenv", k, v]
        if seccomp_fd is not None:
            a += ["--seccomp", str(seccomp_fd)]
        a += ["--", sys.executable, "-I", "-S", str(INNER), json.dumps(inner_config), "--", *command]
        return a


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

    def lines(self) -> list[str]:
        self._thread.join(5)
        return self._data.decode(errors="replace").splitlines()

    def first_json(self) -> dict:
        try:
            return json.loads(self.lines()[0])
        except (IndexError, json.JSONDecodeError):
            return {}
