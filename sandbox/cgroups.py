"""Per-run cgroups: memory, process-count and CPU limits, counters, and killing a whole tree.

cgroup v2 is used where its ``memory``, ``pids`` and ``cpu`` controllers are available
at ``/sys/fs/cgroup``; otherwise cgroup v1 (separate ``memory``, ``pids``, ``cpu``,
``cpuacct`` and ``freezer`` hierarchies), which is what many container hosts offer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from abc import ABC, abstractmethod
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "bestiary"


class CgroupUnavailableError(RuntimeError):
    """The cgroup limits cannot be applied here (with the reason and a fix)."""


class Cgroup(ABC):
    """One run's cgroup, created with its limits set."""

    version: int

    @abstractmethod
    def procs_files(self) -> list[Path]:
        """Files a process writes its pid to in order to join (in every hierarchy)."""

    @abstractmethod
    def pids(self) -> list[int]:
        """Processes currently in the cgroup."""

    @abstractmethod
    def cpu_seconds(self) -> float:
        """CPU time used by everything that ran in the cgroup."""

    @abstractmethod
    def counters(self) -> dict[str, int | float | None]:
        """``memory_peak_bytes``, ``oom_kills``, ``pids_limit_hits``, ``cpu_seconds`` and the limits read back."""

    @abstractmethod
    def _remove_dirs(self) -> None: ...

    def join(self, pid: int) -> None:
        """Move ``pid`` into the cgroup (every hierarchy)."""
        for f in self.procs_files():
            f.write_text(str(pid))

    def kill(self, timeout: float = 5.0) -> bool:
        """SIGKILL every process in the cgroup until it is empty; True if it emptied."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def remove(self) -> None:
        """Kill what is left and delete the cgroup."""
        self.kill()
        for _ in range(50):
            try:
                self._remove_dirs()
                return
            except OSError:
                time.sleep(0.02)


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise CgroupUnavailableError(f"cannot set {path} to {value!r}: {exc.strerror}") from exc


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_keyed(path: Path) -> dict[str, int]:
    try:
        return {k: int(v) for k, v in (line.split() for line in path.read_text().splitlines() if line.strip())}
    except (OSError, ValueError):
        return {}


class CgroupV1(Cgroup):
    """cgroup v1: one directory per controller hierarchy."""

    version = 1
    CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")

    def __init__(self, name: str, memory_bytes: int, pids: int, cpus: float, root: Path = CGROUP_ROOT) -> None:
        self.dirs = {c: root / c / PARENT / name for c in (*self.CONTROLLERS, "freezer")}
        missing = [c for c in self.CONTROLLERS if not (root / c / "cgroup.procs").exists()]
        if missing:
            raise CgroupUnavailableError(f"cgroup v1 controller(s) {', '.join(missing)} are not mounted under {root}")
        self.has_freezer = (root / "freezer" / "cgroup.procs").exists()
        if not self.has_freezer:
            del self.dirs["freezer"]
        try:
            for d in self.dirs.values():
                d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CgroupUnavailableError(
                f"cannot create {exc.filename}: {exc.strerror} (run as root, or delegate a cgroup to this user)"
            ) from exc
        mem = self.dirs["memory"]
        _write(mem / "memory.limit_in_bytes", str(memory_bytes))
        if (mem / "memory.memsw.limit_in_bytes").exists():  # no escape into swap
            _write(mem / "memory.memsw.limit_in_bytes", str(memory_bytes))
        _write(self.dirs["pids"] / "pids.max", str(pids))
        _write(self.dirs["cpu"] / "cpu.cfs_period_us", "100000")
        _write(self.dirs["cpu"] / "cpu.cfs_quota_us", str(max(int(cpus * 100_000), 1000)))

    def procs_files(self) -> list[Path]:  # noqa: D102
        return [d / "cgroup.procs" for d in self.dirs.values()]

    def pids(self) -> list[int]:  # noqa: D102
        try:
            return [int(p) for p in (self.dirs["pids"] / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill(self, timeout: float = 5.0) -> bool:
        """Freeze (so nothing forks meanwhile), SIGKILL everything, thaw."""
        if not self.has_freezer:
            return super().kill(timeout)
        state = self.dirs["freezer"] / "freezer.state"
        try:
            state.write_text("FROZEN")
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        finally:
            state.write_text("THAWED")
        return super().kill(timeout)

    def cpu_seconds(self) -> float:  # noqa: D102
        ns = _read_int(self.dirs["cpuacct"] / "cpuacct.usage")
        return (ns or 0) / 1e9

    def counters(self) -> dict[str, int | float | None]:  # noqa: D102
        mem = self.dirs["memory"]
        return {
            "cgroup_version": 1,
            "memory_limit_bytes": _read_int(mem / "memory.limit_in_bytes"),
            "memory_peak_bytes": _read_int(mem / "memory.max_usage_in_bytes"),
            "oom_kills": _read_keyed(mem / "memory.oom_control").get("oom_kill", 0),
            "memory_failcnt": _read_int(mem / "memory.failcnt"),
            "pids_limit": _read_int(self.dirs["pids"] / "pids.max"),
            "pids_limit_hits": _read_keyed(self.dirs["pids"] / "pids.events").get("max", 0),
            "cpu_seconds": self.cpu_seconds(),
        }

    def _remove_dirs(self) -> None:
        for d in self.dirs.values():
            if d.exists():
                d.rmdir()


class CgroupV2(Cgroup):
    """cgroup v2: one directory in the unified hierarchy."""

    version = 2
    CONTROLLERS = ("memory", "pids", "cpu")

    def __init__(self, name: str, memory_bytes: int, pids: int, cpus: float, root: Path = CGROUP_ROOT) -> None:
        available = (
            set((root / "cgroup.controllers").read_text().split()) if (root / "cgroup.controllers").exists() else set()
        )
        missing = [c for c in self.CONTROLLERS if c not in available]
        if missing:
            raise CgroupUnavailableError(f"cgroup v2 controller(s) {', '.join(missing)} are not available at {root}")
        parent = root / PARENT
        try:
            parent.mkdir(exist_ok=True)
            _write(root / "cgroup.subtree_control", " ".join(f"+{c}" for c in self.CONTROLLERS))
            _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in self.CONTROLLERS))
            self.dir = parent / name
            self.dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise CgroupUnavailableError(f"cannot create a cgroup under {root}: {exc.strerror}") from exc
        _write(self.dir / "memory.max", str(memory_bytes))
        if (self.dir / "memory.swap.max").exists():
            _write(self.dir / "memory.swap.max", "0")
        _write(self.dir / "pids.max", str(pids))
        _write(self.dir / "cpu.max", f"{max(int(cpus * 100_000), 1000)} 100000")

    def procs_files(self) -> list[Path]:  # noqa: D102
        return [self.dir / "cgroup.procs"]

    def pids(self) -> list[int]:  # noqa: D102
        try:
            return [int(p) for p in (self.dir / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill(self, timeout: float = 5.0) -> bool:
        """``cgroup.kill`` where the kernel has it, else SIGKILL each process."""
        if (self.dir / "cgroup.kill").exists():
            (self.dir / "cgroup.kill").write_text("1")
        return super().kill(timeout)

    def cpu_seconds(self) -> float:  # noqa: D102
        return _read_keyed(self.dir / "cpu.stat").get("usage_usec", 0) / 1e6

    def counters(self) -> dict[str, int | float | None]:  # noqa: D102
        events = _read_keyed(self.dir / "memory.events")
        return {
            "cgroup_version": 2,
            "memory_limit_bytes": _read_int(self.dir / "memory.max"),
            "memory_peak_bytes": _read_int(self.dir / "memory.peak"),
            "oom_kills": events.get("oom_kill", 0),
            "pids_limit": _read_int(self.dir / "pids.max"),
            "pids_limit_hits": _read_keyed(self.dir / "pids.events").get("max", 0),
            "cpu_seconds": self.cpu_seconds(),
        }

    def _remove_dirs(self) -> None:
        if self.dir.exists():
            self.dir.rmdir()


def create_cgroup(name: str, memory_bytes: int, pids: int, cpus: float, root: Path = CGROUP_ROOT) -> Cgroup:
    """A cgroup for one run: v2 where its controllers are available, else v1.

    Raises:
        CgroupUnavailableError: If neither can be set up, with both reasons.
    """
    remove_stale(root)
    try:
        return CgroupV2(name, memory_bytes, pids, cpus, root)
    except CgroupUnavailableError as v2:
        try:
            return CgroupV1(name, memory_bytes, pids, cpus, root)
        except CgroupUnavailableError as v1:
            raise CgroupUnavailableError(f"v2: {v2}; v1: {v1}") from v1


#: A run's cgroup left empty for this long belongs to a launcher that died (kill -9) before removing it.
STALE_SECONDS = 120.0


def remove_stale(root: Path = CGROUP_ROOT, older_than: float = STALE_SECONDS) -> int:
    """Remove empty ``bestiary/run-*`` cgroups older than ``older_than`` seconds, in every hierarchy.

    A launcher killed with SIGKILL cannot remove its cgroup; the next launcher does. A
    cgroup still holding a process, or younger than the bound (its launcher may be about
    to join it), is left alone.

    Returns:
        How many cgroup directories were removed.
    """
    removed = 0
    now = time.time()
    for parent in [root / PARENT, *(root / c / PARENT for c in (*CgroupV1.CONTROLLERS, "freezer"))]:
        try:
            children = [d for d in parent.iterdir() if d.is_dir() and d.name.startswith("run-")]
        except OSError:
            continue
        for d in children:
            try:
                procs = (d / "cgroup.procs").read_text() if (d / "cgroup.procs").exists() else ""
                if now - d.stat().st_mtime < older_than or procs.strip():
                    continue
                d.rmdir()
                removed += 1
            except OSError:
                continue
    return removed
