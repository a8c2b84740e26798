"""The syscall filter: a libseccomp program (through its Python bindings) that bubblewrap loads, and its OCI form.

Under gVisor the same filter is applied by ``runsc`` inside its own kernel, from the OCI
bundle's ``linux.seccomp`` section (:func:`oci_profile`, ``runsc --oci-seccomp``): what the
organism never needs is refused on every backend, not only where the host kernel would serve it.

Default allow, with these denied (``EPERM`` unless noted):

- sockets of any family but ``AF_UNIX`` (``EAFNOSUPPORT``): no IP, raw, packet or
  netlink sockets, even though the network namespace already has no route out;
- ``io_uring_*`` (a large attack surface that bypasses per-syscall filtering);
- ``ptrace``, ``process_vm_readv/writev`` (reading or steering other processes);
- ``bpf``, ``perf_event_open``, ``userfaultfd`` (kernel attack surface);
- ``keyctl``, ``add_key``, ``request_key`` (the kernel keyring is not namespaced);
- mount and namespace calls: ``mount``, ``umount2``, ``pivot_root``, the new mount API,
  ``unshare``, ``setns``, and ``clone`` with any ``CLONE_NEW*`` flag; ``clone3`` returns
  ``ENOSYS`` because its flags sit behind a pointer the filter cannot read, so libc falls
  back to ``clone``;
- ``ioctl`` ``TIOCSTI`` and ``TIOCLINUX`` (typing into, or reading, a terminal).

Syscalls of any other architecture (e.g. the 32-bit table) kill the process: libseccomp's
default for a foreign architecture.
"""

from __future__ import annotations

import errno
import platform
import tempfile
from typing import Any

#: Syscalls denied outright, with the errno returned.
DENIED: dict[str, int] = {
    **{
        name: errno.EPERM
        for name in (
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "keyctl",
            "add_key",
            "request_key",
            "mount",
            "umount2",
            "pivot_root",
            "move_mount",
            "open_tree",
            "fsopen",
            "fsmount",
            "fsconfig",
            "fspick",
            "mount_setattr",
            "unshare",
            "setns",
            "kexec_load",
            "kexec_file_load",
            "init_module",
            "finit_module",
            "delete_module",
            "acct",
            "swapon",
            "swapoff",
            "reboot",
            "settimeofday",
            "clock_settime",
            "adjtimex",
        )
    },
    "clone3": errno.ENOSYS,
}

AF_UNIX = 1
TIOCSTI = 0x5412
TIOCLINUX = 0x541C
#: All CLONE_NEW* flags: NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
CLONE_NEW_MASK = 0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000


class SeccompUnavailableError(RuntimeError):
    """libseccomp or its Python bindings cannot be loaded."""


def build_bpf() -> bytes:
    """Compile the filter to a BPF program for ``bwrap --seccomp``.

    Raises:
        SeccompUnavailableError: If libseccomp (``libseccomp2``) or ``pyseccomp`` is missing.
    """
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as exc:  # OSError: pyseccomp found but libseccomp.so is not
        raise SeccompUnavailableError(
            f"libseccomp is not usable ({exc}); install it: apt-get install libseccomp2, pip install pyseccomp"
        ) from exc
    f = sc.SyscallFilter(defaction=sc.ALLOW)
    for name, err in DENIED.items():
        f.add_rule(sc.ERRNO(err), name)
    f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.NE, AF_UNIX))
    f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socketpair", sc.Arg(0, sc.NE, AF_UNIX))
    # One rule per CLONE_NEW* bit: the filter denies clone if any of them is set.
    for bit in _bits(CLONE_NEW_MASK):
        f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, bit, bit))
    for request in (TIOCSTI, TIOCLINUX):
        f.add_rule(sc.ERRNO(errno.EPERM), "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    with tempfile.TemporaryFile() as tmp:
        f.export_bpf(tmp)
        tmp.seek(0)
        return tmp.read()


#: libseccomp's names of this machine's architecture, for an OCI profile.
_OCI_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}


def oci_profile() -> dict[str, Any]:
    """The same filter as an OCI runtime-spec ``linux.seccomp`` section (for runtimes that apply it: ``runsc``).

    Default allow; the same syscalls denied with the same errnos, the same argument rules (sockets
    of any family but ``AF_UNIX``, ``clone`` with a ``CLONE_NEW*`` flag, the two terminal ioctls).
    """
    # clone3 is left out: runsc (as of 2022-12) answers every denied call with EPERM whatever ``errnoRet`` says,
    # and glibc falls back from clone3 to clone (whose flags the rules below check) only on ENOSYS — with EPERM
    # no thread could start. A namespace made through clone3 there lives in gVisor's own kernel.
    rules: list[dict[str, Any]] = [
        {"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": err}
        for name, err in DENIED.items()
        if err != errno.ENOSYS
    ]
    for name in ("socket", "socketpair"):
        rules.append({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EAFNOSUPPORT,
                      "args": [{"index": 0, "value": AF_UNIX, "op": "SCMP_CMP_NE"}]})  # fmt: skip
    for bit in _bits(CLONE_NEW_MASK):
        rules.append({"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM,
                      "args": [{"index": 0, "value": bit, "valueTwo": bit, "op": "SCMP_CMP_MASKED_EQ"}]})  # fmt: skip
    for request in (TIOCSTI, TIOCLINUX):
        arg = {"index": 1, "value": 0xFFFFFFFF, "valueTwo": request, "op": "SCMP_CMP_MASKED_EQ"}
        rules.append({"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM, "args": [arg]})
    arch = _OCI_ARCH.get(platform.machine())
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": [arch] if arch else [], "syscalls": rules}


def _bits(mask: int) -> list[int]:
    return [1 << i for i in range(mask.bit_length()) if mask >> i & 1]
