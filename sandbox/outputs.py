"""Reading what a sandboxed run wrote, without following anything it planted.

Every path is opened component by component with ``O_NOFOLLOW`` relative to the run
directory's descriptor, so a symlink (to ``/etc/shadow``, say) is never followed, and
only regular files with a single link are read, so a hard link to a file elsewhere is
not read either. Nothing here imports or unpickles what it reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeOutputError(OSError):
    """An output path is a symlink, a hard link, or not a regular file."""


def _open_dir(root: Path) -> int:
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW)


def open_output(root: Path, relpath: str) -> int:
    """Open ``root/relpath`` read-only, refusing symlinks and hard links on the way.

    Args:
        root: The run directory (trusted: created by the host).
        relpath: A relative path inside it, as the run named it.

    Returns:
        A file descriptor; the caller closes it.

    Raises:
        UnsafeOutputError: If a component is a symlink or the file is not a regular,
            single-link file, or the path leaves the directory.
    """
    parts = Path(relpath).parts
    if not parts or Path(relpath).is_absolute() or ".." in parts:
        raise UnsafeOutputError(f"output path {relpath!r} must be relative and stay inside {root}")
    fd = _open_dir(root)
    try:
        for part in parts[:-1]:
            try:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                raise UnsafeOutputError(
                    f"{relpath}: component {part!r} is not a plain directory ({exc.strerror})"
                ) from exc
            os.close(fd)
            fd = nxt
        try:
            ffd = os.open(parts[-1], os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        except OSError as exc:
            raise UnsafeOutputError(f"{relpath}: cannot open without following links ({exc.strerror})") from exc
    finally:
        os.close(fd)
    st = os.fstat(ffd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(ffd)
        raise UnsafeOutputError(f"{relpath}: not a regular single-link file (mode {st.st_mode:o}, links {st.st_nlink})")
    return ffd


def read_output(root: Path | str, relpath: str, max_bytes: int = 256 * 1024 * 1024) -> bytes:
    """Read a file the run wrote, safely (see :func:`open_output`).

    Raises:
        UnsafeOutputError: As :func:`open_output`, or if the file exceeds ``max_bytes``.
    """
    fd = open_output(Path(root), relpath)
    with os.fdopen(fd, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeOutputError(f"{relpath}: larger than {max_bytes} bytes")
    return data


def read_json(root: Path | str, relpath: str, max_bytes: int = 64 * 1024 * 1024) -> dict | None:
    """A JSON object the run wrote, read safely (None if absent, unsafe, invalid or not an object)."""
    try:
        data = json.loads(read_output(root, relpath, max_bytes))
    except (UnsafeOutputError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def inventory(root: Path | str, max_files: int = 10_000, skip: frozenset[str] = frozenset()) -> dict:
    """SHA-256 of every regular file under ``root``, and a note of everything else.

    Symlinks are listed with their target, never followed; hard-linked and special
    files are listed, not read. At most ``max_files`` files are hashed.

    Args:
        root: The run directory.
        max_files: Cap on files hashed (the rest are counted).
        skip: Relative paths to leave out (e.g. the audit log itself).

    Returns:
        ``{"files": {relpath: sha256}, "symlinks": {relpath: target}, "other": {relpath: why},
        "total_files": n, "truncated": bool}``.
    """
    root = Path(root)
    files: dict[str, str] = {}
    symlinks: dict[str, str] = {}
    other: dict[str, str] = {}
    total = 0
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = sorted(os.scandir(root / rel_dir) if rel_dir else os.scandir(root), key=lambda e: e.name)
        except OSError as exc:
            other[rel_dir or "."] = f"unreadable directory: {exc.strerror}"
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if rel in skip:
                continue
            if entry.is_symlink():
                symlinks[rel] = os.readlink(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                stack.append(rel)
            elif entry.is_file(follow_symlinks=False):
                total += 1
                if len(files) >= max_files:
                    continue
                try:
                    fd = open_output(root, rel)
                except UnsafeOutputError as exc:
                    other[rel] = str(exc)
                    continue
                h = hashlib.sha256()
                with os.fdopen(fd, "rb") as f:
                    for block in iter(lambda f=f: f.read(1 << 20), b""):
                        h.update(block)
                files[rel] = h.hexdigest()
            else:
                other[rel] = "special file"
    return {"files": files, "symlinks": symlinks, "other": other, "total_files": total, "truncated": total > max_files}
