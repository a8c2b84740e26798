"""The escape suite: each case tries to get out of the sandbox, and must fail with the host intact.

Every case runs a small Python program inside the real sandbox (bwrap, cgroups,
rlimits, seccomp, Landlock) as the unprivileged uid, then checks both what the program
saw and the host afterwards.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bestiary.sandbox import Limits, Policy, SandboxResult, UnsafeOutputError, read_output, run
from bestiary.sandbox.outputs import MAX_HASHED_FILES

PROJECT = Path(__file__).resolve().parents[2]
SITE_PACKAGES = sysconfig.get_paths()["purelib"]


def attempt(code: str) -> str:
    """Wrap code so the program prints ERRNO-name (or 'allowed') as JSON on its last line."""
    body = "\n".join("    " + line for line in code.strip().splitlines())
    return f"""
import ctypes, errno, json, os, socket, sys, fcntl, termios
def syscall(nr, *args):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(nr, *args) == -1:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
try:
{body}
    outcome = "allowed"
except OSError as e:
    outcome = errno.errorcode.get(e.errno, str(e))
except Exception as e:
    outcome = type(e).__name__
print(json.dumps(outcome))
"""


@dataclass
class Case:
    name: str
    code: str
    limits: dict = field(default_factory=dict)
    expect: Callable[[SandboxResult, Path], None] | None = None
    raw: bool = False  # code is a full program, not wrapped by attempt()
    # A kernel interface a user-space kernel (gVisor) serves itself: allowed there, it never reaches the host's.
    own_kernel_serves: bool = False


def denied(*errnos: str) -> Callable[[SandboxResult, Path], None]:
    """The attempt failed (with one of ``errnos`` under bubblewrap; gVisor's kernel may answer other errnos)."""

    def check(result: SandboxResult, workdir: Path) -> None:
        outcome = json.loads(result.stdout.decode().strip().splitlines()[-1])
        assert outcome != "allowed", "the attempt succeeded"
        if errnos and result.backend == "bwrap":
            assert outcome in errnos, f"failed with {outcome}, expected one of {errnos}"

    return check


def host_path_absent(path: str, *errnos: str) -> Callable[[SandboxResult, Path], None]:
    def check(result: SandboxResult, workdir: Path) -> None:
        denied(*errnos)(result, workdir)
        assert not os.path.exists(path), f"{path} was created on the host"

    return check


def reason(expected: str, gvisor: str | None = None) -> Callable[[SandboxResult, Path], None]:
    """The run ended for ``expected`` (for ``gvisor`` under gVisor, where it differs)."""

    def check(result: SandboxResult, workdir: Path) -> None:
        want = gvisor if gvisor and result.backend == "gvisor" else expected
        assert result.reason == want, f"reason {result.reason}, stderr {result.stderr[-500:]!r}"

    return check


MARK = uuid.uuid4().hex[:12]

CASES = [
    Case(
        "tcp_ipv4_host_loopback",
        "s = socket.socket(socket.AF_INET); s.settimeout(2); s.connect(('127.0.0.1', PORT))",
        expect=denied("EAFNOSUPPORT"),
    ),
    Case(
        "tcp_ipv6_host_loopback",
        "s = socket.socket(socket.AF_INET6); s.settimeout(2); s.connect(('::1', PORT6))",
        expect=denied("EAFNOSUPPORT"),
    ),
    Case("dns_lookup", "socket.getaddrinfo('pypi.org', 443)", expect=denied()),
    Case(
        "udp_to_public_resolver",
        "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('1.1.1.1', 53))",
        expect=denied("EAFNOSUPPORT"),
    ),
    Case(
        "raw_socket",
        "socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)",
        expect=denied("EAFNOSUPPORT"),
    ),
    Case(
        "netlink_socket",
        "socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)",
        expect=denied("EAFNOSUPPORT"),
        own_kernel_serves=True,
    ),
    Case("packet_socket", "socket.socket(17, socket.SOCK_RAW, 0)", expect=denied("EAFNOSUPPORT")),
    Case(
        "io_uring_setup",
        "syscall(425, 4, ctypes.create_string_buffer(120))",
        expect=denied("EPERM"),
        own_kernel_serves=True,
    ),
    Case("read_etc_shadow", "open('/etc/shadow').read()", expect=denied("ENOENT")),
    Case("list_root_home", "os.listdir('/root')", expect=denied("ENOENT")),
    Case(
        "secrets_in_environment",
        "import glob\n"
        "blobs = [open(p, 'rb').read() for p in glob.glob('/proc/*/environ')] + [repr(os.environ).encode()]\n"
        "assert not any(b'SECRET_' + b'VALUE' in b for b in blobs), 'found'\n"
        "raise PermissionError(errno.EACCES, 'not found')",
        expect=denied("EACCES"),
    ),
    Case("write_usr", f"open('/usr/bestiary-{MARK}', 'w')", expect=host_path_absent(f"/usr/bestiary-{MARK}", "EROFS")),
    Case(
        "write_site_packages",
        f"open('{SITE_PACKAGES}/bestiary_{MARK}.py', 'w')",
        expect=host_path_absent(f"{SITE_PACKAGES}/bestiary_{MARK}.py", "EROFS"),
    ),
    Case(
        "write_pth_file",
        f"open('{SITE_PACKAGES}/zz_{MARK}.pth', 'w').write('import os')",
        expect=host_path_absent(f"{SITE_PACKAGES}/zz_{MARK}.pth", "EROFS"),
    ),
    Case(
        "write_package_source",
        f"open('{PROJECT}/envs/bestiary-{MARK}.py', 'w')",
        expect=host_path_absent(f"{PROJECT}/envs/bestiary-{MARK}.py", "EROFS"),
    ),
    Case(
        # The checkout is not bound (only its package folders are): runs, docs, .git are out of sight.
        "see_the_checkout",
        f"names = os.listdir('{PROJECT}')\n"
        "assert not {'runs', 'docs', 'tests', '.git', 'README.md'} & set(names), names\n"
        "raise PermissionError(errno.EACCES, 'not visible')",
        expect=denied("EACCES", "ENOENT"),
    ),
    Case("write_root_filesystem", f"open('/bestiary-{MARK}', 'w')", expect=denied("EROFS")),
    Case(
        "write_cgroup_limits",
        "open('/sys/fs/cgroup/memory/memory.limit_in_bytes', 'w').write('-1')",
        expect=denied("ENOENT", "EROFS"),
    ),
    Case("hard_link_host_file", "os.link('/usr/bin/python3.11', 'linked-python')", expect=denied("EPERM", "EXDEV")),
    Case(
        "see_host_processes",
        "pids = [int(p) for p in os.listdir('/proc') if p.isdigit()]\n"
        "assert HOST_PID not in pids and max(pids) < 50, pids\nraise PermissionError(errno.EACCES, 'hidden')",
        expect=denied("EACCES"),
    ),
    Case("signal_host_process", "os.kill(HOST_PID, 9)", expect=denied("ESRCH")),
    Case("ptrace_attach", "syscall(101, 16, 1, 0, 0)", expect=denied("EPERM")),
    Case("nested_user_namespace", "syscall(272, 0x10000000)", expect=denied("EPERM")),
    Case("ptrace_traceme", "syscall(101, 0, 0, 0, 0)", expect=denied("EPERM")),
    Case("packet_socket_datagram", "socket.socket(17, socket.SOCK_DGRAM, 0)", expect=denied("EAFNOSUPPORT")),
    Case("mount_tmpfs", "syscall(165, b'none', b'/tmp', b'tmpfs', 0, None)", expect=denied("EPERM")),
    Case("tiocsti_terminal_injection", "fcntl.ioctl(0, termios.TIOCSTI, b'x')", expect=denied("EPERM")),
    Case(
        "setuid_binary",
        "import subprocess\n"
        "r = subprocess.run(['su', '-c', 'id'], capture_output=True, input=b'')\n"
        "assert r.returncode != 0\nraise PermissionError(errno.EPERM, 'no privilege')",
        expect=denied("EPERM"),
    ),
    Case(
        "tmp_is_size_capped",
        "f = open('/tmp/fill', 'wb')\nfor _ in range(64): f.write(b'x' * 2**20); f.flush()",
        limits={"tmp_mb": 8},
        expect=denied("ENOSPC"),
    ),
    Case(
        "memory_bomb",
        "x = bytearray(600 * 2**20); x[::4096] = b'1' * len(x[::4096])",
        limits={"memory_mb": 128},
        expect=reason("oom"),
    ),
    Case(
        "fork_bomb",
        "import os\nwhile True:\n    os.fork()",
        raw=True,
        limits={"pids": 24, "wall_seconds": 20},
        expect=reason("pids_limit", gvisor="error"),  # gVisor's own process limit: fork fails with EAGAIN
    ),
    Case("cpu_spin", "while True:\n    pass", raw=True, limits={"cpu_seconds": 1.0}, expect=reason("cpu_limit")),
    Case(
        "descriptor_exhaustion",
        "fds = [os.open('/dev/null', os.O_RDONLY) for _ in range(100000)]",
        limits={"open_files": 64},
        expect=denied("EMFILE"),
    ),
    Case(
        "huge_file",
        "f = open('huge', 'wb')\nfor _ in range(100): f.write(b'x' * 2**20); f.flush()",
        limits={"file_size_mb": 8},
        expect=denied("EFBIG"),
    ),
]


@pytest.fixture(scope="module")
def host_servers() -> dict[str, int]:
    v4 = socket.socket(socket.AF_INET)
    v4.bind(("127.0.0.1", 0))
    v4.listen(4)
    v6 = socket.socket(socket.AF_INET6)
    v6.bind(("::1", 0))
    v6.listen(4)
    v4.setblocking(False)
    v6.setblocking(False)
    yield {"PORT": v4.getsockname()[1], "PORT6": v6.getsockname()[1], "v4": v4, "v6": v6}
    for s in (v4, v6):
        try:
            s.accept()
            raise AssertionError("a sandboxed program connected to a host server")
        except BlockingIOError:
            pass
        s.close()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_escape_attempt_fails(
    case: Case, backend: str, workdir: Path, host_servers: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = case.code.replace("PORT6", str(host_servers["PORT6"])).replace("PORT", str(host_servers["PORT"]))
    code = code.replace("HOST_PID", str(os.getpid()))
    monkeypatch.setenv("BESTIARY_SECRET_TOKEN", "SECRET_" + "VALUE")
    limits = Limits(**{"wall_seconds": 30.0, **case.limits})
    program = code if case.raw else attempt(code)
    result = run([sys.executable, "-c", program], workdir, Policy(limits=limits), backend=backend)
    assert case.expect is not None
    if not (case.own_kernel_serves and result.layers.get("user_space_kernel")):
        case.expect(result, workdir)
    if backend == "bwrap":
        assert result.layers["seccomp"] and result.layers["landlock"] and result.layers["cgroup"]
    else:
        assert result.layers["user_space_kernel"] and result.layers["cgroup"] and result.layers["disk_quota"]


def test_symlinks_planted_in_the_run_directory_are_not_followed(backend: str, workdir: Path) -> None:
    code = "import os; os.symlink('/etc/shadow', 'metrics.json'); os.mkdir('d'); os.symlink('/etc', 'd/etc')"
    result = run([sys.executable, "-c", code], workdir, backend=backend)
    assert result.ok
    outputs = result.audit["outputs"]
    assert outputs["symlinks"] == 2 and outputs["samples"] == {"metrics.json": "symlink", "d/etc": "symlink"}
    assert "metrics.json" not in outputs["hashes"]
    # Links are never copied out of the quota, nor followed where they are.
    with pytest.raises((UnsafeOutputError, FileNotFoundError)):
        read_output(workdir, "metrics.json")
    with pytest.raises((UnsafeOutputError, FileNotFoundError)):
        read_output(workdir, "d/etc/shadow")


def test_hard_links_inside_the_run_directory_are_not_read(backend: str, workdir: Path) -> None:
    result = run(
        [sys.executable, "-c", "open('a', 'w').write('x'); import os; os.link('a', 'b')"], workdir, backend=backend
    )
    assert result.ok
    outputs = result.audit["outputs"]
    assert outputs["hard_linked"] == 2 and outputs["hashes"] == {}
    with pytest.raises((UnsafeOutputError, FileNotFoundError)):  # not copied out of the quota either
        read_output(workdir, "a")


def test_double_forked_daemon_does_not_survive(backend: str, workdir: Path) -> None:
    marker = f"bestiary-daemon-{uuid.uuid4().hex}"
    code = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        f"        os.execvp('sleep', ['sleep', '300', '{marker}'])\n    os._exit(0)\nprint('parent done')"
    )
    result = run([sys.executable, "-c", code], workdir, backend=backend)
    assert result.ok and b"parent done" in result.stdout
    time.sleep(0.2)
    survivors = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                survivors.append(pid)
        except OSError:
            pass
    assert survivors == []


def test_sleep_past_the_wall_clock_is_killed(backend: str, workdir: Path) -> None:
    result = run(
        ["sh", "-c", "(sleep 100 &); sleep 100"], workdir, Policy(limits=Limits(wall_seconds=1.0)), backend=backend
    )
    assert result.reason == "timeout" and result.wall_seconds < 10


def test_many_files_are_counted_not_all_read(backend: str, workdir: Path) -> None:
    code = "import os\nfor i in range(3000): open(f'f{i}', 'w').write(str(i))"
    result = run([sys.executable, "-c", code], workdir, backend=backend)
    assert result.ok
    outputs = result.audit["outputs"]
    assert outputs["files"] == 3000 and len(outputs["hashes"]) == MAX_HASHED_FILES and outputs["truncated"]


def test_unbounded_stdout_is_capped(backend: str, workdir: Path) -> None:
    code = "import sys\nfor _ in range(40): sys.stdout.write('y' * 2**20)"
    result = run([sys.executable, "-c", code], workdir, Policy(limits=Limits(output_bytes=64 * 1024)), backend=backend)
    assert result.ok
    assert len(result.stdout) == 64 * 1024 and result.stdout_bytes == 40 * 2**20 and result.stdout_truncated


def test_the_audit_log_is_out_of_the_runs_reach(backend: str, workdir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lies in the writable directory"):
        run(["true"], workdir, audit_path=workdir / "audit.jsonl", backend=backend)
    log = workdir.parent / f"{workdir.name}.audit.jsonl"
    run(["true"], workdir, audit_path=log, backend=backend)
    # The log's path inside is the private /tmp or nothing: whatever the run writes there never reaches the host's.
    run([sys.executable, "-c", f"open({str(log)!r}, 'a').write('forged')"], workdir, audit_path=log, backend=backend)
    lines = log.read_bytes().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["backend"] == backend for line in lines)  # no line appended inside


def test_host_is_intact_after_the_suite() -> None:
    assert not any(p.name.startswith("bestiary-") for p in Path("/usr").iterdir())
    assert not any(
        p.name.startswith(("bestiary_", "zz_"))
        for p in Path(SITE_PACKAGES).iterdir()
        if p.suffix in (".py", ".pth") and "bestiary_plugin" not in p.name
    )
    out = subprocess.run(["id", "-u"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(os.getuid())


def test_another_runs_directory_is_invisible(backend: str, workdir: Path) -> None:
    neighbour = workdir.parent / f"{workdir.name}-neighbour"
    (neighbour / "organism").mkdir(parents=True)
    (neighbour / "metrics.json").write_text('{"secret": 1}')
    code = (
        f"import os, json\nseen = os.path.exists({str(neighbour)!r})\n"
        f"listing = os.listdir({str(workdir.parent)!r})\nprint(json.dumps([seen, listing]))"
    )
    result = run([sys.executable, "-c", code], workdir, backend=backend)
    assert result.ok, result.stderr[-500:]
    seen, listing = json.loads(result.stdout.decode().strip().splitlines()[-1])
    assert seen is False and listing == [workdir.name]  # only its own directory is there
