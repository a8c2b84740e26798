"""A disk quota for the writable directory: a size- and inode-capped tmpfs mounted in its place.

RLIMIT_FSIZE caps one file; nothing caps how many a run writes. So the writable directory
is a fresh tmpfs (``size=``, ``nr_inodes=``, ``nosuid,nodev,noexec``) mounted by the host
over it before anything is written: a run can fill it and no more, its pages are charged
to the run's own memory cgroup, and when it is full the supervisor ends the run with
reason ``disk``. Mounting needs root (the launcher is root whenever the sandbox drops to
an unprivileged uid); without it the ``disk_quota`` layer is unavailable and a policy that
requires it refuses to run. After the run the host reads what it needs, then unmounts.

``workspace(path, ...)`` is the context manager a caller uses when it wants to put inputs
into the directory and read outputs out of it itself (as the organisms' units do); a
backend given a directory that is not already a workspace makes one around the run and
copies back what the run wrote (regular files and directories, within the quota) so the
directory holds the results afterwards.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

from bestiary.sandbox.errors import SandboxUnavailable
from bestiary.sandbox.policy import MIB, Limits, Policy

_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 2, 4, 8
_MNT_DETACH = 2
#: Share of the quota (bytes or inodes) past which a run counts as having filled its disk.
FULL = 0.995


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def is_workspace(path: Path | str) -> bool:
    """Whether ``path`` is a mounted quota tmpfs (one of ours: a mount point of type tmpfs)."""
    p = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                sep = fields.index("-")
                if _unescape(fields[4]) == p and fields[sep + 1] == "tmpfs":
                    return True
    except (OSError, ValueError, IndexError):
        return False
    return False


def _unescape(path: str) -> str:
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mount(path: Path, limits: Limits, uid: int | None) -> None:
    """Mount a quota tmpfs at ``path`` (an existing, empty directory), owned by ``uid``.

    Raises:
        SandboxUnavailable: If it cannot be mounted (not root), saying so.
    """
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    options = f"size={limits.disk_mb * MIB},nr_inodes={limits.disk_files + 1},mode=0755{owner}".encode()
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    if _libc().mount(b"bestiary-quota", str(path).encode(), b"tmpfs", flags, options) != 0:
        err = ctypes.get_errno()
        raise SandboxUnavailable(
            f"disk_quota: cannot mount a size-capped tmpfs at {path}: {os.strerror(err)} (it needs root; "
            f"run as root, or drop the layer explicitly: Policy(required=... - {{'disk_quota'}}))"
        )


def unmount(path: Path) -> None:
    """Detach the quota tmpfs at ``path`` (lazily: open files do not keep it mounted)."""
    _libc().umount2(str(path).encode(), _MNT_DETACH)


def usage(path: Path | str) -> tuple[float, float]:
    """The share of the quota's bytes and of its inodes in use."""
    st = os.statvfs(path)
    used_bytes = 1 - st.f_bavail / st.f_blocks if st.f_blocks else 0.0
    used_inodes = 1 - st.f_favail / st.f_files if st.f_files else 0.0
    return used_bytes, used_inodes


def full(path: Path | str) -> bool:
    """Whether the run has filled its quota (bytes or files)."""
    try:
        b, i = usage(path)
    except OSError:
        return False
    return b >= FULL or i >= FULL


@contextlib.contextmanager
def workspace(path: Path | str, limits: Limits, uid: int | None) -> Iterator[Path]:
    """A quota tmpfs at ``path`` (created empty) for the duration of the block; unmounted and removed after.

    Raises:
        SandboxUnavailable: If the tmpfs cannot be mounted.
    """
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    mount(p, limits, uid)
    try:
        yield p
    finally:
        unmount(p)
        with contextlib.suppress(OSError):
            p.rmdir()


def copy_back(source: Path, target: Path, max_bytes: int, max_files: int) -> int:
    """Copy what a run left in ``source`` into ``target``: directories and regular files only, within bounds.

    Links, special files, hard-linked files (never followed or read) and sparse files (their
    holes would be written out in full) are skipped, as is a file past the byte bound.
    Returns the number of files copied.
    """
    copied, total = 0, 0
    for dirpath, dirnames, filenames in os.walk(source):
        rel = os.path.relpath(dirpath, source)
        dest_dir = target / rel if rel != "." else target
        dest_dir.mkdir(parents=True, exist_ok=True)
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            src = os.path.join(dirpath, name)
            try:
                st = os.lstat(src)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                continue
            if st.st_size > (1 << 20) and st.st_blocks * 512 < st.st_size // 2:
                continue  # sparse: copying would write its holes out in full
            if copied >= max_files:
                return copied
            if total + st.st_size > max_bytes:
                continue
            fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as fin, open(dest_dir / name, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            copied += 1
            total += st.st_size
    return copied


@contextlib.contextmanager
def for_run(workdir: Path, policy: Policy, uid: int | None, layers: dict) -> Iterator[Path | None]:
    """The host directory to bind as the writable one: a quota tmpfs, or None (the workdir itself, no quota).

    A workdir that is already a quota workspace (``quota.workspace``) is used as it is. Otherwise, where a
    tmpfs can be mounted (a root launcher), a fresh one beside the workdir takes the workdir's content,
    is bound in its place, and what the run wrote is copied back afterwards.

    Raises:
        SandboxUnavailable: If the quota is required and cannot be set up.
    """
    if is_workspace(workdir):
        layers["disk_quota"] = "tmpfs"
        yield workdir
        return
    if os.geteuid() != 0 and "disk_quota" not in (policy.required or ()):
        layers["disk_quota"] = False
        yield None
        return
    limits = policy.limits
    with workspace(workdir.parent / f".{workdir.name}.quota-{uuid.uuid4().hex[:8]}", limits, uid) as qdir:
        copy_back(workdir, qdir, limits.disk_mb * MIB, limits.disk_files)
        if uid is not None:
            for dirpath, dirnames, filenames in os.walk(qdir):
                for name in [*dirnames, *filenames]:
                    os.lchown(os.path.join(dirpath, name), uid, uid)
        layers["disk_quota"] = "tmpfs"
        try:
            yield qdir
        finally:
            copy_back(qdir, workdir, limits.disk_mb * MIB, limits.disk_files)
