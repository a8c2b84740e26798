"""``bestiary sandbox check``: verify each guarantee of Contract 4 on this host, for any backend.

A probe program runs inside the backend and reports what it could and could not do;
two more runs check the wall-clock kill and a neighbour's invisibility. Each guarantee
is one small ``check_*`` function of what was observed, so every backend — bubblewrap,
gVisor, a plugin's — is held to the same list (as Inspect's sandbox self-check is).
"""

from __future__ import annotations

import json
import math
import os
import resource
import socket
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bestiary.sandbox import view
from bestiary.sandbox.base import get_backend
from bestiary.sandbox.errors import SandboxUnavailable
from bestiary.sandbox.outputs import MalformedOutputError, parse_json
from bestiary.sandbox.policy import MIB, Limits, Policy
from bestiary.sandbox.result import SandboxResult

SECRET_VAR = "BESTIARY_CHECK_SECRET"

PROBE = r"""
import ctypes, errno, json, os, resource, socket, sys
out = {}
def attempt(name, fn):
    try:
        fn(); out[name] = "allowed"
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
    except Exception as e:
        out[name] = type(e).__name__
out["uid"] = os.getuid()
out["cap_eff"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
out["env_has_secret"] = "BESTIARY_CHECK_SECRET" in os.environ
out["pids_visible"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
try:
    out["interfaces"] = [l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]]
except OSError:
    out["interfaces"] = []
host = ("127.0.0.1", int(sys.argv[2]))
attempt("inet_socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(host))
attempt("netlink_socket", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
attempt("write_usr", lambda: open("/usr/bestiary-probe", "w"))
attempt("write_project", lambda: open(sys.argv[1] + "/bestiary-probe", "w"))
attempt("write_root", lambda: open("/bestiary-probe", "w"))
attempt("write_workdir", lambda: open("probe-ok", "w").write("ok"))
attempt("read_shadow", lambda: open("/etc/shadow").read())
attempt("list_root", lambda: os.listdir("/root"))
attempt("read_neighbour", lambda: open(sys.argv[3]).read())
libc = ctypes.CDLL(None, use_errno=True)
def sys_call(nr, *args):
    if libc.syscall(nr, *args) != 0:
        raise OSError(ctypes.get_errno(), "")
attempt("unshare_user", lambda: sys_call(272, 0x10000000))
attempt("io_uring_setup", lambda: sys_call(425, 1, ctypes.create_string_buffer(120)))
attempt("ptrace_attach_1", lambda: sys_call(101, 16, 1, 0, 0))
st = os.statvfs("/tmp"); out["tmp_bytes"] = st.f_blocks * st.f_frsize
names = ("RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_NPROC")
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


@dataclass
class Observed:
    """What the probe runs saw, for the ``check_*`` functions."""

    backend: str
    policy: Policy
    result: SandboxResult
    seen: dict[str, Any]
    timed: SandboxResult | None = None


def _denied(value: str) -> bool:
    return value != "allowed"


def check_isolated_namespaces(o: Observed) -> Guarantee:
    """The backend established its namespace (or kernel) isolation layer."""
    return Guarantee("isolation layer", o.result.layers.get("namespaces") is True, True, f"backend {o.backend}")


def check_not_root(o: Observed) -> Guarantee:
    """The command does not run as root inside."""
    uid = o.seen["uid"]
    return Guarantee("not root inside", uid != 0 or os.geteuid() != 0, True, f"uid inside: {uid}")


def check_capabilities(o: Observed) -> Guarantee:
    """No effective capabilities inside."""
    cap = o.seen["cap_eff"]
    return Guarantee("all capabilities dropped", int(cap, 16) == 0, True, f"CapEff {cap}")


def check_network(o: Observed) -> Guarantee:
    """No network: at most a private loopback, and the host's loopback server unreachable."""
    s = o.seen
    ok = set(s["interfaces"]) <= {"lo"} and _denied(s["inet_socket"])
    return Guarantee("no network", ok, True, f"interfaces {s['interfaces']}; TCP to the host: {s['inet_socket']}")


def check_host_readonly(o: Observed) -> Guarantee:
    """The host's files are read-only: /usr, the project's source, the root directory."""
    s = o.seen
    ok = all(_denied(s[k]) for k in ("write_usr", "write_project", "write_root"))
    detail = f"/usr: {s['write_usr']}, package source: {s['write_project']}, /: {s['write_root']}"
    return Guarantee("host read-only", ok, True, detail)


def check_writable(o: Observed) -> Guarantee:
    """The one writable directory is writable."""
    return Guarantee("one writable run directory", o.seen["write_workdir"] == "allowed", True, o.seen["write_workdir"])


def check_private_tmp(o: Observed) -> Guarantee:
    """A private ``/tmp`` of the policy's size."""
    tmp_mb = o.seen["tmp_bytes"] / MIB
    ok = abs(tmp_mb - o.policy.limits.tmp_mb) < 1
    return Guarantee("private size-capped /tmp", ok, True, f"{tmp_mb:.0f} MiB")


def check_secrets(o: Observed) -> Guarantee:
    """No host secrets: the launcher's environment, /etc/shadow, /root."""
    s = o.seen
    ok = not s["env_has_secret"] and _denied(s["read_shadow"]) and _denied(s["list_root"])
    detail = (
        f"launcher env var visible: {s['env_has_secret']}; /etc/shadow: {s['read_shadow']}; /root: {s['list_root']}"
    )
    return Guarantee("no host secrets", ok, True, detail)


def check_processes(o: Observed) -> Guarantee:
    """No view of the host's processes."""
    pids = o.seen["pids_visible"]
    ok = os.getpid() not in pids and len(pids) < 10
    return Guarantee("no view of host processes", ok, True, f"pids visible inside: {pids}")


def check_private_view(o: Observed) -> Guarantee:
    """Another run's directory is invisible."""
    value = o.seen["read_neighbour"]
    return Guarantee("other runs invisible", _denied(value), True, f"reading a neighbour's file: {value}")


def check_syscall_filter(o: Observed) -> Guarantee:
    """The host kernel's dangerous interfaces are out of reach.

    Denied (netlink, io_uring, nested user namespaces), or served by a kernel of the
    sandbox's own (gVisor), so they never reach the host's.
    """
    s = o.seen
    own_kernel = o.result.layers.get("user_space_kernel")
    denied = all(_denied(s[k]) for k in ("netlink_socket", "io_uring_setup", "unshare_user"))
    detail = (
        f"netlink: {s['netlink_socket']}, io_uring: {s['io_uring_setup']}, unshare: {s['unshare_user']}, "
        f"ptrace: {s['ptrace_attach_1']}; "
        + (
            f"served by {own_kernel}, not the host kernel"
            if own_kernel
            else f"seccomp={o.result.layers.get('seccomp')}"
        )
    )
    return Guarantee("host kernel surface reduced", bool(own_kernel) or denied, True, detail)


def check_landlock(o: Observed) -> Guarantee:
    """Landlock rules are in force (a second filesystem boundary), where the backend uses it."""
    value = o.result.layers.get("landlock")
    return Guarantee("Landlock", bool(value), "landlock" in (o.policy.required or ()), str(value))


def check_cgroup(o: Observed) -> Guarantee:
    """Memory and process limits are in force (cgroup counters read back)."""
    c = o.result.audit.get("counters", {})
    limits = o.policy.limits
    cgroup_pids, nproc = get_backend(o.backend).process_limits(limits)
    seen_nproc = o.seen["rlimits"].get("RLIMIT_NPROC")
    ok = c.get("memory_limit_bytes") == limits.memory_mb * MIB and c.get("pids_limit") == cgroup_pids
    unlimited = nproc == resource.RLIM_INFINITY
    ok = ok and seen_nproc == nproc and min(cgroup_pids, math.inf if unlimited else nproc) == limits.pids  # the run's
    detail = (
        f"cgroup {o.result.layers.get('cgroup')}: memory {c.get('memory_limit_bytes')}, pids {c.get('pids_limit')}; "
        f"RLIMIT_NPROC {seen_nproc} (run's limit {limits.pids})"
    )
    return Guarantee("memory and process limits", ok, "cgroup" in (o.policy.required or ()), detail)


def check_rlimits(o: Observed) -> Guarantee:
    """The per-process rlimits are in force."""
    rl = o.seen["rlimits"]
    limits = o.policy.limits
    ok = rl["RLIMIT_FSIZE"] == limits.file_size_mb * MIB and rl["RLIMIT_NOFILE"] == limits.open_files
    ok = ok and rl["RLIMIT_CORE"] == 0
    detail = ", ".join(f"{k[7:]}={v}" for k, v in rl.items())
    return Guarantee("rlimits", ok, "rlimits" in (o.policy.required or ()), detail)


def check_audit(o: Observed) -> Guarantee:
    """The audit record hashes the outputs."""
    ok = bool(o.result.audit.get("outputs", {}).get("hashes", {}).get("probe-ok"))
    return Guarantee("audit record", ok, True, "outputs hashed into the record")


def check_timeout(o: Observed) -> Guarantee:
    """The wall-clock limit kills the whole process tree."""
    t = o.timed
    ok = t is not None and t.reason == "timeout" and t.wall_seconds < 15
    detail = f"reason {t.reason} after {t.wall_seconds:.1f}s" if t else "not run"
    return Guarantee("wall-clock timeout kills the process tree", ok, True, detail)


CHECKS: tuple[Callable[[Observed], Guarantee], ...] = (
    check_isolated_namespaces,
    check_not_root,
    check_capabilities,
    check_network,
    check_host_readonly,
    check_writable,
    check_private_tmp,
    check_secrets,
    check_processes,
    check_private_view,
    check_syscall_filter,
    check_landlock,
    check_cgroup,
    check_rlimits,
    check_audit,
    check_timeout,
)


def check_host(backend: str = "bwrap", policy: Policy | None = None) -> list[Guarantee]:
    """Run the self-check against ``backend``; never raises for a failed guarantee (it becomes a failed row).

    Args:
        backend: A registered backend's name.
        policy: The policy to check (default: every layer the backend provides, required).
    """
    impl = get_backend(backend)
    policy = policy or Policy(limits=Limits(wall_seconds=120, tmp_mb=64), required=impl.provides)
    missing = impl.unavailable()
    if missing:
        return [Guarantee("backend available", False, True, missing)]
    rows = [Guarantee("backend available", True, True, f"{backend}: {impl.summary}")]
    with tempfile.TemporaryDirectory(prefix="bestiary-check-") as tmp:
        os.chmod(tmp, 0o755)
        neighbour = Path(tmp) / "neighbour"
        neighbour.mkdir()
        (neighbour / "secret.txt").write_text("{}")
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        os.environ[SECRET_VAR] = "do-not-leak"
        try:
            source = view.package_sources()[0] if view.package_sources() else sys.prefix
            argv = ["python", "-c", PROBE, source, str(server.getsockname()[1]), str(neighbour / "secret.txt")]
            result = impl.run_command(argv, Path(tmp) / "work", policy)
        except SandboxUnavailable as exc:
            return [*rows, Guarantee("sandbox starts", False, True, str(exc))]
        finally:
            os.environ.pop(SECRET_VAR, None)
            server.close()
        try:
            seen = parse_json(result.stdout.strip().splitlines()[-1]) if result.ok else None
        except (MalformedOutputError, IndexError):
            seen = None
        if not isinstance(seen, dict):
            tail = result.stderr.decode(errors="replace")[-500:]
            return [*rows, Guarantee("sandbox starts", False, True, f"probe failed ({result.reason}): {tail}")]
        rows.append(Guarantee("sandbox starts", True, True, f"probe ran in {result.wall_seconds:.2f}s"))
        quick = Policy(limits=Limits(wall_seconds=1.0, tmp_mb=16), required=policy.required, uid=policy.uid)
        timed = impl.run_command(["sh", "-c", "(sleep 60 &) ; sleep 60"], Path(tmp) / "timeout", quick)
        observed = Observed(backend, policy, result, seen, timed)
        rows += [check(observed) for check in CHECKS]
    return rows


def as_json(rows: list[Guarantee]) -> str:
    """The rows as JSON (for ``--json``)."""
    return json.dumps([r.__dict__ for r in rows], indent=2)
