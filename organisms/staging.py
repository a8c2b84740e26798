"""Running a unit of work — one or more organisms — in one sandboxed process, and reading back what it made.

A :class:`Unit` is what one sandboxed process does: train (and evaluate) or evaluate
one organism, or a population of organisms of one shape. The host prepares a fresh
*staging* directory — the sandbox's only writable directory — holding ``unit.json`` and,
per organism, ``<trial-id>/trial.json`` and the organism to start from, if any. The
worker writes each organism's outputs beside them. Afterwards the host reads back only
the declared outputs (:data:`DECLARED`), each without following links and within a size
bound, notes anything else the run left, and removes the staging directory. Nothing
here writes a run directory: :mod:`bestiary.organisms.finalize` checks the outputs and
does that, on the host that owns it.

:func:`run_unit` is what every executor calls — in a thread on this machine, or as a
Ray task on another node (whose result travels back as plain bytes).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bestiary.organisms.files import json_bytes
from bestiary.organisms.protocol import (
    PROGRESS_PREFIX,
    SOURCE_DIR,
    TRIAL,
    UNIT_FILE,
)
from bestiary.organisms.readback import StagedTrial, read_back, read_staged
from bestiary.organisms.unit import SandboxOptions, Unit
from bestiary.sandbox import Launch, get_backend, quota
from bestiary.sandbox.base import resolve_policy, sandbox_uid_for
from bestiary.sandbox.outputs import MalformedOutputError, parse_json


@dataclass
class UnitResult:
    """What came back from one unit.

    Attributes:
        unit: The unit.
        trials: Trial id → its staged outputs.
        sandbox: The sandbox result's summary (reason, exit code, times, layers, policy).
        audit: The sandbox's audit record.
        stderr_tail: The end of the worker's stderr.
        node: Where it ran.
        error: Why the unit produced no sandbox result at all (e.g. a lost Ray task).
        error_reason: The trials' reason when ``error`` is set (``lost``, ``setup_failed``).
        early: Trials already handed over before the unit ended (see :func:`run_unit`).
    """

    unit: Unit
    trials: dict[str, StagedTrial] = field(default_factory=dict)
    sandbox: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""
    node: str = field(default_factory=socket.gethostname)
    error: str | None = None
    error_reason: str = "lost"
    early: frozenset[str] = frozenset()

    @property
    def reason(self) -> str:
        """The sandbox's reason (``error_reason`` if the unit never produced a result)."""
        return self.sandbox.get("reason", "lost") if self.error is None else self.error_reason


def _write_input(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, 0o644)


def prepare(unit: Unit, unit_dir: Path, uid: int | None) -> None:
    """Write the unit's inputs into its new staging directory and hand what it made to the sandbox uid."""
    _write_input(unit_dir / UNIT_FILE, json_bytes(unit.manifest().model_dump(mode="json")))
    for job in unit.jobs:
        d = unit_dir / job.trial.trial_id
        _write_input(d / TRIAL, json_bytes(job.trial.to_json()))
        for rel, data in (job.source or {}).items():
            _write_input(d / SOURCE_DIR / rel, data)
    for dirpath, dirnames, filenames in os.walk(unit_dir):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
        if uid is not None:  # everything here was just made by the host: safe to hand over
            for name in [*dirnames, *filenames]:
                os.lchown(os.path.join(dirpath, name), uid, uid)
    if uid is not None:
        os.chown(unit_dir, uid, uid)


def _progress_sink(progress: Callable[[str, dict[str, Any]], None] | None) -> Callable[[bytes], None] | None:
    """Parse the worker's progress lines (hostile input: bounded, never trusted beyond display)."""
    if progress is None:
        return None
    prefix = PROGRESS_PREFIX.encode()

    def on_line(line: bytes) -> None:
        if not line.startswith(prefix):
            return
        try:
            data = parse_json(line[len(prefix) :], max_bytes=16 * 1024, max_depth=4)
        except MalformedOutputError:
            return
        if isinstance(data, dict) and isinstance(data.get("trial"), str):
            progress(data["trial"], data)

    return on_line


#: Receives an organism's outputs as soon as the worker says they are complete, before the unit ends.
EarlyResult = Callable[["Unit", str, StagedTrial, dict[str, Any]], None]


def remove_tree(path: Path) -> None:
    """Remove a staging directory whatever the run put in it (links are removed, never followed)."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    for dirpath, dirnames, _ in os.walk(path):  # a run may have removed its directories' write permission
        for name in dirnames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, 0o700)
    shutil.rmtree(path)


def worker_command(unit: Unit, unit_dir: Path) -> tuple[str, ...]:
    """The program the sandbox runs for a unit: Bestiary's worker, given the staging directory."""
    return (sys.executable, "-m", "bestiary.organisms.worker", str(unit_dir))


def run_unit(
    unit: Unit,
    staging_root: Path,
    options: SandboxOptions,
    progress: Callable[[str, dict[str, Any]], None] | None = None,
    early: EarlyResult | None = None,
) -> UnitResult:
    """Run a unit in the sandbox and read back its outputs.

    Args:
        unit: What to do.
        staging_root: Where the unit's staging directory is made (its parent must be
            reachable by the sandbox uid).
        options: Backend, limits, the opt-out, and paths to hide.
        progress: Receives ``(trial id, progress dict)`` from the worker.
        early: If given, an organism the worker reports complete (a progress line
            ``{"trial": id, "event": "done"}``) is read back at once and handed to
            ``early(unit, trial id, outputs, sandbox facts known so far)``, so a killed
            sweep loses only the organisms still in training; it is then left out of
            the result's ``trials``. Each organism is handed over at most once.

    Raises:
        SandboxUnavailable: If the sandbox cannot be established; nothing ran.
    """
    staging_root = Path(staging_root).absolute()  # the worker runs with the staging directory as its cwd
    staging_root.mkdir(parents=True, exist_ok=True)
    os.chmod(staging_root, 0o755)
    clean_staging(staging_root)  # a killed host process leaves its units (and their quota mounts) behind: here,
    # before every unit, so a sweep, `bestiary train` and a Ray node alike clean up after it
    unit_dir = staging_root / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    unit_dir.mkdir(mode=0o755)
    backend = "none" if options.unsandboxed else options.backend
    policy = options.policy()
    uid = None if options.unsandboxed else sandbox_uid_for(policy)
    # The unit's disk quota holds its inputs too, and the outputs are read from it before it goes.
    impl = get_backend(backend, allow_unsandboxed=options.unsandboxed)
    quota_needed = not options.unsandboxed and "disk_quota" in (resolve_policy(policy, impl).required or ())
    space = quota.workspace(unit_dir, policy.limits, uid) if quota_needed else contextlib.nullcontext(unit_dir)
    jobs = {j.trial.trial_id: j for j in unit.jobs}
    facts = {"backend": backend, "policy": policy.to_json()}
    handed: set[str] = set()  # trials whose early record succeeded
    lock = threading.Lock()
    closed = False  # once the run has ended, no organism is handed over early: the unit's end reads it back
    # Early records run here, one at a time, never in the thread that reads the worker's stdout; the unit
    # waits for every one of them before it reads the rest back and removes the staging directory.
    recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bestiary-early") if early else None

    def record_early(tid: str) -> None:
        try:
            early(unit, tid, read_staged(jobs[tid], unit_dir, unit), facts)  # type: ignore[misc]
        except Exception:  # recorded with the others when the unit ends
            return
        with lock:
            handed.add(tid)

    submitted: set[str] = set()

    def on_progress(tid: str, data: dict[str, Any]) -> None:
        if recorder is not None and data.get("event") == "done" and tid in jobs:
            with lock:
                if closed or tid in submitted:
                    return
                submitted.add(tid)
                recorder.submit(record_early, tid)
        if progress is not None:
            progress(tid, data)

    try:
        with space:
            prepare(unit, unit_dir, uid)
            sink = _progress_sink(on_progress) if (progress or early) else None
            launch = Launch(worker_command(unit, unit_dir), unit_dir, policy, None, sink)
            try:
                result = impl.run(launch)
            finally:
                with lock:
                    closed = True
                if recorder is not None:
                    recorder.shutdown(wait=True)  # every early record has ended, well or not
            trials = read_back(unit, unit_dir, frozenset(handed))
    finally:
        remove_tree(unit_dir)
    return UnitResult(
        unit,
        trials,
        {**result.summary(), "policy": launch.policy.to_json()},
        result.audit,
        result.stderr.decode(errors="replace")[-4000:],
        early=frozenset(handed),
    )


def clean_staging(staging_root: Path) -> int:
    """Remove staging directories of this host whose owning process is gone (a killed sweep); return how many."""
    removed = 0
    host = socket.gethostname()
    try:
        entries = list(staging_root.iterdir())
    except OSError:
        return 0
    for d in entries:
        h, pid, _ = ([*d.name.rsplit("-", 2), "", ""])[:3]
        if h != host or not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        try:
            if quota.is_workspace(d):
                quota.unmount(d)
            remove_tree(d)
            removed += 1
        except OSError:
            continue
    return removed
