"""Writing files atomically, for the host and the worker alike: a reader sees the old file or the new one."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def json_bytes(obj: Any) -> bytes:
    """The canonical JSON Bestiary writes (sorted keys, indented, one final newline)."""
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode()


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes so readers see the old file or the new one, never a partial one (a planted link is replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON (:func:`json_bytes`) atomically."""
    write_atomic(path, json_bytes(obj))


def write_new(path: Path, data: bytes) -> None:
    """Write a file that must not exist yet (exclusive create: a second writer fails, nothing is overwritten).

    Raises:
        FileExistsError: If it exists.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def sha256(data: bytes) -> str:
    """SHA-256 of bytes, hex."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
