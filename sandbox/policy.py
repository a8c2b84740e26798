"""What a sandboxed run may do: limits, binds, hidden paths, environment, and which layers are required."""

from __future__ import annotations

import hashlib
import json
import math
import resource
from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: Layers a policy can require. A required layer that cannot be established raises
#: ``SandboxUnavailable`` before anything runs. A backend states which it provides.
LAYERS: tuple[str, ...] = (
    "namespaces",  # user, pid, net, ipc, uts, cgroup namespaces (bubblewrap) or a gVisor sandbox
    "drop_root",  # the launcher, if root, runs the sandbox as an unprivileged uid
    "cgroup",  # memory, pids and CPU limits through cgroups (v2, else v1)
    "rlimits",  # CPU seconds, file size, open files, processes, no core, address space
    "seccomp",  # the syscall filter (libseccomp)
    "landlock",  # filesystem and TCP rules applied inside (Linux Landlock)
    "disk_quota",  # the writable directory is a size- and inode-capped tmpfs (needs a root launcher)
    "user_space_kernel",  # syscalls are served by a kernel of the sandbox's own (gVisor), not the host's
)

#: Environment variables passed into the sandbox (with their host values) when set.
DEFAULT_ENV_ALLOWLIST: tuple[str, ...] = ("LANG", "LC_ALL", "TZ", "PYTHONHASHSEED")

MIB = 1024 * 1024

#: Upper bounds of the limits: a value above them is a typo (``--pids 1e20``), not a policy.
_MAXIMA: dict[str, float] = {
    "memory_mb": 1 << 22,  # 4 TiB
    "pids": 1 << 22,
    "cpus": 4096,
    "cpu_seconds": 30 * 86400,
    "wall_seconds": 30 * 86400,
    "file_size_mb": 1 << 22,
    "open_files": 1 << 20,
    "address_space_mb": 1 << 26,
    "tmp_mb": 1 << 20,
    "output_bytes": 1 << 30,
    "disk_mb": 1 << 20,
    "disk_files": 1 << 24,
}


def _limit(default: float, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run; each field's ``metadata["doc"]`` says what it caps.

    The docs are the one source for the CLI's ``--help`` and the sweep spec's reference.
    """

    memory_mb: int = _limit(2048, "Memory cap of the whole run (cgroup), MiB.")
    pids: int = _limit(128, "Maximum processes and threads of the run (cgroup; also RLIMIT_NPROC).")
    cpus: float = _limit(1.0, "CPU bandwidth cap, in cores (cgroup CPU quota).")
    cpu_seconds: float = _limit(3600.0, "Total CPU time of the run, seconds (cgroup accounting; RLIMIT_CPU).")
    wall_seconds: float = _limit(3600.0, "Wall-clock limit, seconds; the whole process tree is killed.")
    file_size_mb: int = _limit(512, "Largest file the run may write (RLIMIT_FSIZE), MiB.")
    open_files: int = _limit(256, "Maximum open descriptors per process (RLIMIT_NOFILE).")
    address_space_mb: int = _limit(
        16384, "Address-space backstop per process (RLIMIT_AS), MiB; torch reserves far more than it uses."
    )
    tmp_mb: int = _limit(256, "Size of the private /tmp (tmpfs), MiB.")
    output_bytes: int = _limit(1 * MIB, "stdout and stderr are each kept up to this many bytes.")
    disk_mb: int = _limit(512, "Total bytes the run may write into its writable directory, MiB (a tmpfs quota).")
    disk_files: int = _limit(20_000, "Files and directories the run may create in its writable directory.")

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"sandbox limit `{f.name}` must be a number, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"sandbox limit `{f.name}` must be a positive finite number, got {value!r}")
            if value > _MAXIMA[f.name]:
                raise ValueError(f"sandbox limit `{f.name}` = {value:g} is above its maximum {_MAXIMA[f.name]:g}")
            if f.type == "int" and value != int(value):
                raise ValueError(f"sandbox limit `{f.name}` must be a whole number, got {value!r}")


@dataclass(frozen=True)
class Policy:
    """Everything that decides what a sandboxed run can reach.

    Attributes:
        limits: Resource limits.
        required: Layers that must be established, or nothing runs (None: every layer the
            backend provides; a layer the backend does not provide makes it refuse).
        ro_binds: Extra host paths bound read-only at the same path (besides the Python
            runtime's view, which every backend adds).
        hide: Host paths hidden inside (an empty directory in their place), e.g. a runs
            directory that lies beneath a bound source tree.
        env: Extra environment variables set inside (name → value).
        env_allowlist: Host variables passed through when set.
        uid: The unprivileged uid (and gid) a root launcher drops to.
    """

    limits: Limits = field(default_factory=Limits)
    required: frozenset[str] | None = None
    ro_binds: tuple[str, ...] = ()
    hide: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    env_allowlist: tuple[str, ...] = DEFAULT_ENV_ALLOWLIST
    uid: int = 65534

    def __post_init__(self) -> None:
        unknown = set(self.required or ()) - set(LAYERS)
        if unknown:
            raise ValueError(f"unknown sandbox layer(s) {sorted(unknown)}; valid layers: {', '.join(LAYERS)}")
        if self.uid == 0:
            raise ValueError("the sandbox uid must not be 0: root inside can read root-owned host files")

    def to_json(self) -> dict:
        """A JSON-ready description (for the audit record and organism cards)."""
        d = asdict(self)
        d["required"] = sorted(self.required) if self.required is not None else "every layer the backend provides"
        return d


def rlimits(limits: Limits) -> dict[int, int]:
    """The rlimits every backend applies to the command (soft = hard)."""
    return {
        resource.RLIMIT_CPU: int(limits.cpu_seconds) + 1,
        resource.RLIMIT_FSIZE: limits.file_size_mb * MIB,
        resource.RLIMIT_NOFILE: limits.open_files,
        resource.RLIMIT_NPROC: limits.pids + 64,  # per uid: the cgroup is the tight per-run limit
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_AS: limits.address_space_mb * MIB,
    }


def apply_rlimits(limits: dict[int, int]) -> None:
    """Set rlimits in the calling process (used before exec)."""
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))


def policy_hash(argv: list[str], policy: Policy, seccomp_bpf: bytes = b"") -> str:
    """SHA-256 of the exact policy: the full launcher argv, the limits and the seccomp program."""
    blob = json.dumps(
        {"argv": argv, "policy": policy.to_json(), "seccomp": hashlib.sha256(seccomp_bpf).hexdigest()}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def limit_docs() -> dict[str, tuple[Any, str]]:
    """Each limit's default and doc: ``name -> (default, doc)``."""
    return {f.name: (f.default, f.metadata["doc"]) for f in fields(Limits)}
