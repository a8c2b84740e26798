"""Linux Landlock through ``ctypes``: filesystem, TCP and scope rules for the current process.

Standard library only, because it runs inside the sandbox (``_inner.py``) before the
command is executed. It is written here rather than taken from PyPI because the only
package there is a development pre-release without the TCP and scope rules (Landlock
ABI 4 and 6) that this sandbox uses.

The rules: read and execute anywhere the mount namespace shows; write, create, remove
and truncate only beneath the given writable paths; no TCP bind or connect at all;
and, from ABI 6, no signals to or abstract-socket connections with processes outside
the sandbox's Landlock domain.
"""

from __future__ import annotations

import ctypes
import os

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_PR_SET_NO_NEW_PRIVS = 38

# Filesystem access rights, by the ABI version that introduced them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_ABI1_WRITE = sum(1 << i for i in range(4, 13))  # remove dir/file, make char/dir/reg/sock/fifo/block/sym
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def abi_version() -> int:
    """The kernel's Landlock ABI version, or 0 where Landlock is unsupported or disabled."""
    v = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(v), 0)


def _fs_rights(abi: int) -> tuple[int, int]:
    """(all handled rights, rights that only writable paths get) for an ABI version."""
    write = WRITE_FILE | _ABI1_WRITE
    if abi >= 2:
        write |= REFER
    if abi >= 3:
        write |= TRUNCATE
    handled = EXECUTE | READ_FILE | READ_DIR | write
    if abi >= 5:
        handled |= IOCTL_DEV
    return handled, write


def restrict(writable: list[str], ioctl_paths: list[str] = ("/dev",)) -> int:  # type: ignore[assignment]
    """Restrict the calling process (and its future children) for good.

    Args:
        writable: Paths beneath which writing is allowed (the run directory, ``/tmp``, ``/dev``).
        ioctl_paths: Paths beneath which device ioctls are allowed (ABI ≥ 5).

    Returns:
        The ABI version used.

    Raises:
        OSError: If Landlock is unavailable or a rule cannot be added.
    """
    abi = abi_version()
    if abi < 1:
        raise OSError("Landlock is not supported by this kernel (or disabled at boot)")
    handled, write = _fs_rights(abi)
    attr = _RulesetAttr(
        handled,
        NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0,
    )
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    fd = _libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        raise _oserror("landlock_create_ruleset")
    try:
        read = EXECUTE | READ_FILE | READ_DIR
        _add_path(fd, "/", read)
        for path in writable:
            _add_path(fd, path, read | write | (IOCTL_DEV if abi >= 5 and path in ioctl_paths else 0))
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise _oserror("prctl(PR_SET_NO_NEW_PRIVS)")
        if _libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            raise _oserror("landlock_restrict_self")
    finally:
        os.close(fd)
    return abi


def _add_path(ruleset_fd: int, path: str, access: int) -> None:
    pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        rule = _PathBeneathAttr(
            access if os.path.isdir(path) else access & (EXECUTE | READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV), pfd
        )
        if (
            _libc.syscall(
                _SYS_ADD_RULE,
                ctypes.c_int(ruleset_fd),
                ctypes.c_int(_RULE_PATH_BENEATH),
                ctypes.byref(rule),
                ctypes.c_uint32(0),
            )
            != 0
        ):
            raise _oserror(f"landlock_add_rule({path})")
    finally:
        os.close(pfd)


def _oserror(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")
