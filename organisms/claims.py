"""Claiming a trial before running it, so that no organism is ever trained twice at once.

A claim is ``<run dir>/claim.json``, created with ``O_EXCL`` (only one creator wins) and
holding the claimant's host, boot id, pid, the process's start time and a random nonce.
The claimant touches the file every few seconds (its heartbeat). A claim whose owner is
gone is taken over:

- on the same host (same boot id), when the process with that pid and start time no
  longer exists (a ``kill -9``);
- on another host sharing the filesystem, when the heartbeat is older than
  ``stale_after`` seconds (a dead node).

Taking over renames the stale claim aside, checks that what was renamed is the stale
claim that was judged (not a fresh one that replaced it meanwhile — if it was, it is put
back), and then creates a new claim with ``O_EXCL``. Before writing results the owner
checks that it still holds its claim (:meth:`Claim.held`), so a run that lost its claim
while hung never overwrites its successor's.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bestiary.organisms.rundir import CLAIM
from bestiary.sandbox.outputs import MalformedOutputError, UnsafeOutputError, parse_json, read_output

HEARTBEAT_SECONDS = 10.0
STALE_AFTER = 300.0


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (None if there is no such process, or it has ended).

    A process killed but not yet reaped by its parent (a zombie) has ended: its claim is stale.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


HOST = socket.gethostname()
BOOT = _boot_id()


@dataclass(frozen=True)
class Claim:
    """A held claim on one run directory."""

    path: Path
    nonce: str

    def held(self) -> bool:
        """Whether this process still holds the claim (the file is there and carries our nonce)."""
        info = _read(self.path)
        return info is not None and info.get("nonce") == self.nonce

    def heartbeat(self) -> None:
        """Refresh the claim's heartbeat (its modification time)."""
        with contextlib.suppress(OSError):
            os.utime(self.path)

    def release(self) -> None:
        """Remove the claim, if it is still ours."""
        if self.held():
            self.path.unlink(missing_ok=True)


def _read(path: Path) -> dict | None:
    try:
        data = parse_json(read_output(path.parent, path.name, 64 * 1024))
    except (FileNotFoundError, UnsafeOutputError, MalformedOutputError, OSError):
        return None
    return data if isinstance(data, dict) else None


def owner_alive(info: dict, mtime: float, stale_after: float = STALE_AFTER) -> bool:
    """Whether the owner of a claim with this content and heartbeat is still alive."""
    if info.get("boot") == BOOT and info.get("host") == HOST:
        pid = info.get("pid")
        return isinstance(pid, int) and _start_time(pid) == info.get("start")
    return time.time() - mtime < stale_after


def _judge(path: Path, stale_after: float) -> tuple[dict | None, bool | None]:
    """A claim file's content and whether it is live (None: there is no claim)."""
    info = _read(path)
    try:
        mtime = path.lstat().st_mtime
    except FileNotFoundError:
        return None, None
    if info is None:  # being written right now, or garbage that goes stale
        return None, time.time() - mtime < 5
    return info, owner_alive(info, mtime, stale_after)


def held_by_a_live_owner(run_dir: Path, stale_after: float = STALE_AFTER) -> bool:
    """Whether ``run_dir``'s claim exists and its owner lives (a dead owner's is taken over: :func:`try_claim`)."""
    return bool(_judge(run_dir / CLAIM, stale_after)[1])


def try_claim(run_dir: Path, stale_after: float = STALE_AFTER) -> Claim | None:
    """Claim ``run_dir`` for this process, or return None if a live owner holds it.

    Args:
        run_dir: The trial's run directory (created if missing).
        stale_after: Heartbeat age (seconds) after which another host's claim is taken over.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / CLAIM
    nonce = uuid.uuid4().hex
    body = json.dumps(
        {"host": HOST, "boot": BOOT, "pid": os.getpid(), "start": _start_time(os.getpid()), "nonce": nonce}
    ).encode()
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except FileExistsError:
            if not _take_over_if_stale(path, stale_after):
                return None
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        return Claim(path, nonce)
    return None


def _take_over_if_stale(path: Path, stale_after: float) -> bool:
    """Remove a stale claim safely; True if the caller may try to create its own."""
    info, live = _judge(path, stale_after)
    if live is None:
        return True
    if live:
        return False
    aside = path.with_name(f".{CLAIM}.stale-{uuid.uuid4().hex}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return True
    moved = _read(aside)
    if info is not None and (moved or {}).get("nonce") != info.get("nonce"):
        with contextlib.suppress(OSError):  # a fresh claim replaced the stale one meanwhile: put it back
            os.link(aside, path)
        aside.unlink(missing_ok=True)
        return False
    aside.unlink(missing_ok=True)
    return True


class Heartbeat:
    """A daemon thread that refreshes a set of claims every :data:`HEARTBEAT_SECONDS`."""

    def __init__(self, interval: float = HEARTBEAT_SECONDS) -> None:
        self._claims: set[Claim] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._loop, daemon=True, name="bestiary-heartbeat")
        self._thread.start()

    def add(self, claim: Claim) -> None:
        """Keep ``claim`` alive."""
        with self._lock:
            self._claims.add(claim)

    def discard(self, claim: Claim) -> None:
        """Stop refreshing ``claim``."""
        with self._lock:
            self._claims.discard(claim)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                claims = list(self._claims)
            for c in claims:
                c.heartbeat()

    def stop(self) -> None:
        """End the thread."""
        self._stop.set()
