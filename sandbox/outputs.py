"""Reading what a sandboxed run wrote, as hostile input: no links followed, every read and parse bounded.

Every path is opened component by component with ``O_NOFOLLOW`` relative to the
directory's descriptor, so a symlink (to ``/etc/shadow``, say) is never followed, and
only regular files with a single link are read, so a hard link to a file elsewhere is
not read either. Sizes are checked before reading, JSON is parsed with limits on size,
nesting depth and integer length, and the inventory of a directory is a bounded summary
(counts and a few samples), never a list as long as the run made it. Nothing here
imports or unpickles what it reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC

#: Defaults of the bounded readers.
MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 40
MAX_INVENTORY_ENTRIES = 250_000
MAX_HASHED_FILES = 128
MAX_HASHED_BYTES = 256 * 1024 * 1024
SAMPLES = 16


class UnsafeOutputError(OSError):
    """An output path is a symlink, a hard link, not a regular file, too large, or leaves its directory."""


class MalformedOutputError(ValueError):
    """An output that is not what it must be: not JSON, too deep, an integer too long, the wrong shape."""


def _open_dir(root: Path) -> int:
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW)


def open_output(root: Path, relpath: str) -> int:
    """Open ``root/relpath`` read-only, refusing symlinks and hard links on the way.

    Args:
        root: The directory (trusted: created by the host).
        relpath: A relative path inside it, as the run named it.

    Returns:
        A file descriptor; the caller closes it.

    Raises:
        UnsafeOutputError: If a component is a symlink, the file is not a regular,
            single-link file, or the path leaves the directory.
        FileNotFoundError: If the file does not exist.
    """
    parts = Path(relpath).parts
    if not parts or Path(relpath).is_absolute() or ".." in parts:
        raise UnsafeOutputError(f"output path {relpath!r} must be relative and stay inside {root}")
    fd = _open_dir(root)
    try:
        for part in parts[:-1]:
            try:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                raise
            except OSError as exc:
                raise UnsafeOutputError(
                    f"{relpath}: component {part!r} is not a plain directory ({exc.strerror})"
                ) from exc
            os.close(fd)
            fd = nxt
        try:
            ffd = os.open(parts[-1], os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise UnsafeOutputError(f"{relpath}: cannot open without following links ({exc.strerror})") from exc
    finally:
        os.close(fd)
    st = os.fstat(ffd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(ffd)
        raise UnsafeOutputError(f"{relpath}: not a regular single-link file (mode {st.st_mode:o}, links {st.st_nlink})")
    return ffd


#: A file larger than this whose disk blocks hold less than :data:`SPARSE_FRACTION` of its size is sparse.
SPARSE_MIN_BYTES = 1024 * 1024
SPARSE_FRACTION = 1 / 8


def read_output(root: Path | str, relpath: str, max_bytes: int = 256 * 1024 * 1024, allow_sparse: bool = True) -> bytes:
    """Read a file the run wrote, safely (see :func:`open_output`), refusing it if larger than ``max_bytes``.

    With ``allow_sparse=False`` a sparse file is refused before it is read: it costs the run nothing against
    its disk quota but would cost the reader its whole size in memory.

    Raises:
        UnsafeOutputError: As :func:`open_output`, if the file exceeds ``max_bytes``, or is sparse.
        FileNotFoundError: If the file does not exist.
    """
    fd = open_output(Path(root), relpath)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        size = st.st_size
        if size > max_bytes:
            raise UnsafeOutputError(f"{relpath}: {size:,} bytes, more than the {max_bytes:,} allowed")
        if not allow_sparse and size > SPARSE_MIN_BYTES and st.st_blocks * 512 < size * SPARSE_FRACTION:
            raise UnsafeOutputError(
                f"{relpath}: a sparse file ({size:,} bytes, {st.st_blocks * 512:,} of them on disk); outputs are "
                f"written in full"
            )
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeOutputError(f"{relpath}: larger than {max_bytes:,} bytes")
    return data


def _check_depth(obj: Any, max_depth: int) -> None:
    """Refuse a parsed document nested deeper than ``max_depth`` (walked without recursion)."""
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            raise MalformedOutputError(f"nested deeper than {max_depth} levels")
        stack.extend((c, depth + 1) for c in children)


def parse_json(
    data: bytes | str,
    *,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    max_int_digits: int = MAX_INT_DIGITS,
) -> Any:
    """Parse untrusted JSON with limits on size, nesting depth and integer length.

    Non-finite numbers (``NaN``, ``Infinity``) are refused too: no output of ours writes them.

    Raises:
        MalformedOutputError: Saying which limit or rule the document broke.
    """
    if len(data) > max_bytes:
        raise MalformedOutputError(f"{len(data):,} bytes, more than the {max_bytes:,} allowed")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise MalformedOutputError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc

    def parse_int(s: str) -> int:
        if len(s.lstrip("-")) > max_int_digits:
            raise MalformedOutputError(f"an integer of {len(s)} digits (at most {max_int_digits})")
        return int(s)

    def refuse_constant(name: str) -> Any:
        raise MalformedOutputError(f"the non-finite number {name}")

    try:
        # The C scanner raises RecursionError on very deep documents rather than crashing.
        obj = json.loads(text, parse_int=parse_int, parse_constant=refuse_constant)
    except MalformedOutputError:
        raise
    except RecursionError as exc:
        raise MalformedOutputError(f"nested deeper than {max_depth} levels") from exc
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise MalformedOutputError(f"not valid JSON: {exc}") from exc
    _check_depth(obj, max_depth)
    return obj


def read_json(root: Path | str, relpath: str, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """A JSON document the run wrote, read and parsed with every limit of :func:`read_output` and :func:`parse_json`.

    Raises:
        FileNotFoundError: If it does not exist.
        UnsafeOutputError: If it is a link, a special file or too large.
        MalformedOutputError: If it is not bounded, valid JSON.
    """
    return parse_json(read_output(root, relpath, max_bytes), max_bytes=max_bytes)


def sha256_fd(fd: int, max_bytes: int) -> tuple[str, int]:
    """SHA-256 of at most ``max_bytes`` of an open file, and the bytes read."""
    h, n = hashlib.sha256(), 0
    while n < max_bytes:
        block = os.read(fd, min(1 << 20, max_bytes - n))
        if not block:
            break
        h.update(block)
        n += len(block)
    return h.hexdigest(), n


@dataclass
class Inventory:
    """A bounded summary of what a run left in a directory (for the audit record)."""

    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    hard_linked: int = 0
    special: int = 0
    sparse: int = 0
    apparent_bytes: int = 0
    allocated_bytes: int = 0
    hashed_bytes: int = 0
    truncated: bool = False
    hashes: dict[str, str] = field(default_factory=dict)
    samples: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, with its lists bounded by construction."""
        return {k: v for k, v in self.__dict__.items()}


def inventory(
    root: Path | str,
    *,
    max_entries: int = MAX_INVENTORY_ENTRIES,
    max_hashed_files: int = MAX_HASHED_FILES,
    max_hashed_bytes: int = MAX_HASHED_BYTES,
) -> Inventory:
    """Count everything under ``root`` and hash its first regular files, within bounds.

    Symlinks are counted (never followed), hard-linked and special files counted (never
    read), sparse files (allocated far less than their size) counted and not hashed. At
    most ``max_entries`` entries are visited, ``max_hashed_files`` files hashed and
    ``max_hashed_bytes`` bytes read; ``truncated`` says a bound was reached. A few
    unusual entries are kept as ``samples`` (path → what it is).
    """
    root = Path(root)
    inv = Inventory()
    seen = 0
    stack = [""]

    def sample(rel: str, why: str) -> None:
        if len(inv.samples) < SAMPLES:
            inv.samples[rel[:200]] = why[:200]

    while stack:
        rel_dir = stack.pop()
        try:
            it = os.scandir(root / rel_dir if rel_dir else root)
        except OSError as exc:
            sample(rel_dir or ".", f"unreadable directory: {exc.strerror}")
            continue
        with it:
            for entry in it:
                seen += 1
                if seen > max_entries:
                    inv.truncated = True
                    return inv
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISLNK(st.st_mode):
                    inv.symlinks += 1
                    sample(rel, "symlink")
                elif stat.S_ISDIR(st.st_mode):
                    inv.dirs += 1
                    stack.append(rel)
                elif stat.S_ISREG(st.st_mode):
                    _count_file(root, rel, st, inv, max_hashed_files, max_hashed_bytes, sample)
                else:
                    inv.special += 1
                    sample(rel, "special file")
    return inv


def _count_file(
    root: Path,
    rel: str,
    st: os.stat_result,
    inv: Inventory,
    max_files: int,
    max_bytes: int,
    sample: Callable[[str, str], None],
) -> None:
    inv.files += 1
    inv.apparent_bytes += st.st_size
    inv.allocated_bytes += st.st_blocks * 512
    if st.st_nlink != 1:
        inv.hard_linked += 1
        sample(rel, f"hard link ({st.st_nlink} links)")
        return
    if st.st_size > (1 << 20) and st.st_blocks * 512 < st.st_size // 2:
        inv.sparse += 1
        sample(rel, f"sparse: {st.st_size:,} bytes, {st.st_blocks * 512:,} allocated")
        return
    hashes = inv.hashes
    if len(hashes) >= max_files or inv.hashed_bytes + st.st_size > max_bytes:
        inv.truncated = True
        return
    try:
        fd = open_output(root, rel)
    except (UnsafeOutputError, OSError) as exc:
        sample(rel, str(exc))
        return
    try:
        digest, n = sha256_fd(fd, max_bytes - inv.hashed_bytes)
    finally:
        os.close(fd)
    inv.hashed_bytes += n
    hashes[rel[:200]] = digest
