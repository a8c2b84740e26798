"""What a sandboxed run may do: limits, binds, environment, and which layers are required."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

#: Layers a policy can require. A required layer that cannot be established raises
#: ``SandboxUnavailable`` before anything runs.
LAYERS: tuple[str, ...] = (
    "namespaces",  # user, pid, net, ipc, uts, cgroup namespaces (bubblewrap)
    "drop_root",  # the launcher, if root, runs the sandbox as an unprivileged uid
    "cgroup",  # memory, pids and CPU limits through cgroups (v2, else v1)
    "rlimits",  # CPU seconds, file size, open files, processes, no core, address space
    "seccomp",  # the syscall filter (libseccomp)
    "landlock",  # filesystem and TCP rules applied inside (Linux Landlock)
)

#: Environment variables passed into the sandbox (with their host values) when set.
DEFAULT_ENV_ALLOWLIST: tuple[str, ...] = ("LANG", "LC_ALL", "TZ", "PYTHONHASHSEED")

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run.

    Attributes:
        memory_mb: Memory cap (cgroup), MiB.
        pids: Maximum number of processes and threads (cgroup; also RLIMIT_NPROC).
        cpus: CPU bandwidth cap in cores (cgroup CPU quota).
        cpu_seconds: Total CPU time of the run (cgroup accounting; RLIMIT_CPU per process).
        wall_seconds: Wall-clock timeout; the whole process tree is killed.
        file_size_mb: Largest file the run may write (RLIMIT_FSIZE), MiB.
        open_files: Maximum open descriptors per process (RLIMIT_NOFILE).
        address_space_mb: Address-space backstop per process (RLIMIT_AS), MiB; large
            enough for torch, which reserves much more virtual memory than it uses.
        tmp_mb: Size of the private ``/tmp`` (tmpfs), MiB.
        output_bytes: stdout and stderr are each kept up to this many bytes.
        max_output_files: At most this many files of the run directory are hashed into
            the audit record (the rest are counted, not read).
    """

    memory_mb: int = 2048
    pids: int = 128
    cpus: float = 1.0
    cpu_seconds: float = 3600.0
    wall_seconds: float = 3600.0
    file_size_mb: int = 512
    open_files: int = 256
    address_space_mb: int = 16384
    tmp_mb: int = 256
    output_bytes: int = 1 * MIB
    max_output_files: int = 10_000

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not value > 0:
                raise ValueError(f"sandbox limit `{name}` must be positive, got {value!r}")


@dataclass(frozen=True)
class Policy:
    """Everything that decides what a sandboxed run can reach.

    Attributes:
        limits: Resource limits.
        required: Layers that must be established, or nothing runs.
        ro_binds: Extra host paths bound read-only at the same path.
        env: Extra environment variables set inside (name → value).
        env_allowlist: Host variables passed through when set.
        uid: The unprivileged uid (and gid) a root launcher drops to.
    """

    limits: Limits = field(default_factory=Limits)
    required: frozenset[str] = frozenset(LAYERS)
    ro_binds: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    env_allowlist: tuple[str, ...] = DEFAULT_ENV_ALLOWLIST
    uid: int = 65534

    def __post_init__(self) -> None:
        unknown = set(self.required) - set(LAYERS)
        if unknown:
            raise ValueError(f"unknown sandbox layer(s) {sorted(unknown)}; valid layers: {', '.join(LAYERS)}")
        if self.uid == 0:
            raise ValueError("the sandbox uid must not be 0: root inside can read root-owned host files")

    def to_json(self) -> dict:
        """A JSON-ready description (for the audit record and organism cards)."""
        d = asdict(self)
        d["required"] = sorted(self.required)
        return d


def policy_hash(argv: list[str], policy: Policy, seccomp_bpf: bytes) -> str:
    """SHA-256 of the exact policy: the full launcher argv, the limits and the seccomp program."""
    blob = json.dumps(
        {"argv": argv, "policy": policy.to_json(), "seccomp": hashlib.sha256(seccomp_bpf).hexdigest()}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()
