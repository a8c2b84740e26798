"""``bestiary sandbox check``: verify each guarantee of Contract 4 on this host.

One probe script runs inside the sandbox and reports what it could and could not do;
two more runs check the wall-clock kill and the cgroup limits. Each guarantee is a row:
what was tried, whether it held, and whether the default policy requires it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bestiary.sandbox.backends import get_backend
from bestiary.sandbox.errors import SandboxUnavailable
from bestiary.sandbox.policy import MIB, Limits, Policy

SECRET_VAR = "BESTIARY_CHECK_SECRET"

PROBE = r"""
import ctypes, errno, json, os, resource, socket, sys
out = {}
def attempt(name, fn):
    try:
        fn(); out[name] = "allowed"
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
out["uid"] = os.getuid()
out["cap_eff"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
out["env_has_secret"] = "BESTIARY_CHECK_SECRET" in os.environ
out["pids_visible"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
out["interfaces"] = [l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]]
attempt("inet_socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
attempt("netlink_socket", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
attempt("write_usr", lambda: open("/usr/bestiary-probe", "w"))
attempt("write_project", lambda: open(sys.argv[1] + "/bestiary-probe", "w"))
attempt("write_root", lambda: open("/bestiary-probe", "w"))
attempt("write_workdir", lambda: open("probe-ok", "w").write("ok"))
attempt("read_shadow", lambda: open("/etc/shadow").read())
attempt("list_root", lambda: os.listdir("/root"))
libc = ctypes.CDLL(None, use_errno=True)
def sys_call(nr, *args):
    if libc.syscall(nr, *args) != 0:
        raise OSError(ctypes.get_errno(), "")
attempt("unshare_user", lambda: sys_call(272, 0x10000000))
attempt("io_uring_setup", lambda: sys_call(425, 1, ctypes.create_string_buffer(120)))
attempt("ptrace_attach_1", lambda: sys_call(101, 16, 1, 0, 0))
st = os.statvfs("/tmp"); out["tmp_bytes"] = st.f_blocks * st.f_frsize
names = ("RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_AS", "RLIMIT_CPU")
out["rlimits"] = {n: resource.getrlimit(getattr(resource, n))[1] for n in names}
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Guarantee:
    """One row of the check."""

    name: str
    passed: bool
    required: bool
    detail: str


def check_host(policy: Policy | None = None) -> list[Guarantee]:
    """Run the self-check; never raises for a failed guarantee (it becomes a failed row)."""
    policy = policy or Policy(limits=Limits(wall_seconds=60, tmp_mb=64))
    rows: list[Guarantee] = []

    def row(name: str, passed: bool, detail: str, required: bool = True) -> None:
        rows.append(Guarantee(name, bool(passed), required, detail))

    bwrap = shutil.which("bwrap")
    row(
        "bubblewrap installed",
        bwrap is not None,
        bwrap or "not found: install it (Debian/Ubuntu: apt-get install bubblewrap)",
    )
    backend = get_backend("bwrap")
    with tempfile.TemporaryDirectory(prefix="bestiary-check-") as tmp:
        os.chmod(tmp, 0o755)
        workdir = Path(tmp) / "work"
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        os.environ[SECRET_VAR] = "do-not-leak"
        try:
            project = str(Path(__file__).resolve().parents[1])
            result = backend.run(["python", "-c", PROBE, project], workdir, policy)
        except SandboxUnavailable as exc:
            row("sandbox starts", False, str(exc))
            return rows
        finally:
            os.environ.pop(SECRET_VAR, None)
            server.close()
        if not result.ok:
            row("sandbox starts", False, f"probe failed ({result.reason}): {result.stderr.decode()[-500:]}")
            return rows
        p = json.loads(result.stdout)
        layers = result.layers
        row("sandbox starts", True, f"probe ran in {result.wall_seconds:.2f}s")
        row("namespaces (user, pid, net, ipc, uts, cgroup)", layers.get("namespaces") is True, "bwrap --unshare-*")
        row("not root inside", p["uid"] != 0 and layers.get("drop_root") is True, f"uid inside: {p['uid']}")
        row("all capabilities dropped", int(p["cap_eff"], 16) == 0, f"CapEff {p['cap_eff']}")
        row(
            "no network (only loopback, no IP sockets)",
            p["interfaces"] == ["lo"] and p["inet_socket"] != "allowed",
            f"interfaces {p['interfaces']}; AF_INET socket: {p['inet_socket']}",
        )
        row(
            "host read-only",
            all(p[k] != "allowed" for k in ("write_usr", "write_project", "write_root")),
            f"/usr: {p['write_usr']}, project: {p['write_project']}, /: {p['write_root']}",
        )
        row("one writable run directory", p["write_workdir"] == "allowed", f"run directory: {p['write_workdir']}")
        tmp_mb = p["tmp_bytes"] / MIB
        row("private size-capped /tmp", abs(tmp_mb - policy.limits.tmp_mb) < 1, f"{tmp_mb:.0f} MiB")
        row(
            "no host secrets",
            not p["env_has_secret"] and p["read_shadow"] != "allowed" and p["list_root"] != "allowed",
            f"launcher env var visible: {p['env_has_secret']}; /etc/shadow: {p['read_shadow']}; "
            f"/root: {p['list_root']}",
        )
        row(
            "no view of host processes",
            os.getpid() not in p["pids_visible"] and len(p["pids_visible"]) < 10,
            f"pids visible inside: {p['pids_visible']}",
        )
        row(
            "seccomp filter",
            layers.get("seccomp") is True
            and p["netlink_socket"] != "allowed"
            and p["io_uring_setup"] == "EPERM"
            and p["unshare_user"] == "EPERM",
            f"netlink: {p['netlink_socket']}, io_uring: {p['io_uring_setup']}, unshare: {p['unshare_user']}, "
            f"ptrace: {p['ptrace_attach_1']}",
            "seccomp" in policy.required,
        )
        row("Landlock", bool(layers.get("landlock")), str(layers.get("landlock")), "landlock" in policy.required)
        c = result.audit.get("counters", {})
        row(
            "cgroup limits (memory, pids, CPU)",
            bool(layers.get("cgroup"))
            and c.get("memory_limit_bytes") == policy.limits.memory_mb * MIB
            and c.get("pids_limit") == policy.limits.pids,
            f"cgroup {layers.get('cgroup')}: memory {c.get('memory_limit_bytes')}, pids {c.get('pids_limit')}",
            "cgroup" in policy.required,
        )
        rl = p["rlimits"]
        row(
            "rlimits",
            rl["RLIMIT_FSIZE"] == policy.limits.file_size_mb * MIB
            and rl["RLIMIT_NOFILE"] == policy.limits.open_files
            and rl["RLIMIT_CORE"] == 0,
            ", ".join(f"{k[7:]}={v}" for k, v in rl.items()),
            "rlimits" in policy.required,
        )
        row(
            "audit record",
            bool(result.audit.get("outputs", {}).get("files", {}).get("probe-ok"))
            and (workdir / "audit.jsonl").exists(),
            "outputs hashed, audit.jsonl appended",
        )
        quick = Policy(limits=Limits(wall_seconds=1.0, tmp_mb=16), required=policy.required, uid=policy.uid)
        timed = backend.run(["sh", "-c", "(sleep 60 &) ; sleep 60"], Path(tmp) / "timeout", quick)
        row(
            "wall-clock timeout kills the process tree",
            timed.reason == "timeout" and timed.wall_seconds < 10,
            f"reason {timed.reason} after {timed.wall_seconds:.1f}s",
        )
    return rows
