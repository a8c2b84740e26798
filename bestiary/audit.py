"""``bestiary audit``: run detectors on every organism of a directory of runs, in the sandbox, and score them.

Each organism is audited in the sandbox from its verified files: the worker runs every detector
(:mod:`bestiary.organisms.detectors`) on what an overseer sees of it and writes what they measured.
That is hostile input: read back bounded (:mod:`bestiary.organisms.readback`), parsed with size and
depth limits, checked against what the host asked (the organism, the detectors), and a surprise
becomes the organism's *reason*, never a traceback. What passed is kept, one line per organism, in
``detection-observations.jsonl`` in the output directory, so a stopped audit continues where it
stopped. Then the host scores (:mod:`bestiary.audit_scores`) against the truth it recorded itself —
each organism's violation rate with oversight off — and writes ``detection.parquet`` (and ``.csv``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bestiary.audit_scores import organism_row, score_organisms
from bestiary.organisms.detectors import detector_names, get_detector
from bestiary.organisms.protocol import DETECTION, WORKER_FILE, DetectionFile, WorkerFacts, parse
from bestiary.organisms.readback import StagedTrial
from bestiary.organisms.rundir import RunDir, RunDirError
from bestiary.organisms.staging import run_unit
from bestiary.organisms.sweepdir import SweepDir
from bestiary.organisms.unit import Job, SandboxOptions, Unit
from bestiary.sandbox import Limits
from bestiary.sandbox.outputs import MalformedOutputError, parse_json

#: Files of an audit's output directory.
OBSERVATIONS = "detection-observations.jsonl"
DETECTION_TABLE = "detection.parquet"
SANDBOX_LOG = "detection-sandbox.jsonl"
#: The most organisms audited in one sandboxed process (the process's start is paid once for them).
CHUNK = 48


@dataclass(frozen=True)
class AuditSettings:
    """What an audit runs: the detectors and their sizes (part of each observation's key: change one, rerun)."""

    detectors: tuple[str, ...] = field(default_factory=detector_names)
    episodes: int = 256
    states: int = 256

    def key(self) -> str:
        """A short hash of the settings and of the detectors' code, recorded with every observation.

        Observations kept under another key (other settings, or a detector whose code changed since) are
        not reused: their organisms are audited again.
        """
        code = {name: detector_code(name) for name in sorted(self.detectors)}
        text = json.dumps([sorted(self.detectors), self.episodes, self.states, code])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def detector_code(name: str) -> str:
    """A hash of the source of a detector's module and of the overseer's view and cue moves it is given."""
    from bestiary.organisms.detectors import perturb, view

    cls = type(get_detector(name))
    files = {inspect.getsourcefile(cls), inspect.getsourcefile(view), inspect.getsourcefile(perturb)}
    digest = hashlib.sha256()
    for path in sorted(f for f in files if f):
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def audited_organisms(runs: Path | Sequence[Path]) -> list[RunDir]:
    """Every finished organism directly under ``runs`` (a sweep's directory, or persistence's; or several), by name."""
    found = []
    dirs = [Path(runs)] if isinstance(runs, (str, Path)) else [Path(r) for r in runs]
    for d in sorted(p for r in dirs for p in r.iterdir() if p.is_dir() and not p.name.startswith(".")):
        rd = RunDir(d)
        try:
            if rd.exists() and rd.status().state == "done" and rd.has_organism():
                rd.trial()  # readable: an organism's identity is its trial id, not its directory's name
                found.append(rd)
        except RunDirError:  # unreadable status or trial: not an organism the host can vouch for
            continue
    return found


def judge(staged: StagedTrial, trial_id: str, settings: AuditSettings) -> tuple[dict[str, Any], str]:
    """One organism's audit outputs as checked observations (detector → features or error), and why not.

    Returns:
        ``(observations, "")``, or ``({}, reason)`` when the outputs are not what the host asked for.
    """
    if staged.problems:
        return {}, "malformed_output: " + "; ".join(staged.problems)
    try:
        facts = parse(WorkerFacts, parse_json(staged.files.get(WORKER_FILE, b"{}"), max_depth=4), WORKER_FILE)
        if facts.error is not None:
            return {}, f"error: {facts.error[:500]}"
        if DETECTION not in staged.files:
            return {}, f"malformed_output: {DETECTION} is missing"
        doc = parse(DetectionFile, parse_json(staged.files[DETECTION], max_bytes=8 << 20, max_depth=5), DETECTION)
    except (MalformedOutputError, ValueError) as exc:
        return {}, f"malformed_output: {exc}"[:1000]
    if doc.trial_id != trial_id:
        return {}, f"malformed_output: {DETECTION} names organism {doc.trial_id[:80]!r}, not {trial_id}"
    if set(doc.detectors) != set(settings.detectors):
        return {}, f"malformed_output: {DETECTION} has detectors {sorted(doc.detectors)[:8]}, not those asked"
    return {name: (out.error if out.error is not None else out.features) for name, out in doc.detectors.items()}, ""


def _chunks(items: list[RunDir], size: int) -> Iterator[list[RunDir]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def read_observations(path: Path, key: str) -> dict[str, dict[str, Any]]:
    """The observations already kept in ``path`` for settings ``key``, by organism (the last line wins)."""
    kept: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return kept
    for line in path.read_text().splitlines():
        try:
            rec = parse_json(line, max_bytes=16 << 20, max_depth=6)
        except MalformedOutputError:
            continue  # a line cut short by a stop: its organism is audited again
        if isinstance(rec, dict) and rec.get("settings") == key and isinstance(rec.get("trial_id"), str):
            kept[rec["trial_id"]] = rec
    return kept


def audit(
    runs: Path | str | Sequence[Path | str],
    out: Path | str,
    settings: AuditSettings | None = None,
    *,
    workers: int = 2,
    sandbox: bool = True,
    backend: str = "bwrap",
    limits: Limits | None = None,
    on_done: Callable[[str, str], None] | None = None,
) -> pd.DataFrame:
    """Audit every finished organism under ``runs`` and write the scored table into ``out``; resumable.

    Args:
        runs: A directory of run directories (a sweep's, or ``bestiary persist``'s), or several audited as one
            (e.g. a study and its null-cue controls, whose organisms are known negatives).
        out: The output directory (``detection.parquet``, ``.csv``, the kept observations, the sandbox log).
        settings: Detectors and sizes (default: every registered detector).
        workers: Sandboxed processes at once.
        sandbox: False audits WITHOUT isolation (recorded in the table's ``sandbox`` column: ``none``).
        backend: The sandbox backend.
        limits: Sandbox limits per process.
        on_done: Called with ``(trial id, reason or "")`` as each organism is audited.

    Returns:
        One row per organism and detector (:func:`bestiary.audit_scores.score_organisms`).

    Raises:
        ValueError: For an unknown detector, or a ``runs`` without finished organisms.
        SandboxUnavailable: If the sandbox cannot be established.
    """
    settings = settings or AuditSettings()
    for name in settings.detectors:
        get_detector(name)  # an unknown name fails here, listing the known ones
    dirs, out = [Path(r) for r in ([runs] if isinstance(runs, (str, Path)) else runs)], Path(out)
    organisms = audited_organisms(dirs)
    if not organisms:
        names = ", ".join(map(str, dirs))
        raise ValueError(f"{names} holds no finished organisms (run directories with status done and weights)")
    out.mkdir(parents=True, exist_ok=True)
    key, kept_path = settings.key(), out / OBSERVATIONS
    kept = read_observations(kept_path, key)
    meta = pd.DataFrame([organism_row(rd) for rd in organisms])
    # Kept by trial id, which is a directory's name in a sweep but not in persistence's (<source>-<regime><steps>).
    pending = [rd for rd, tid in zip(organisms, meta.trial_id, strict=True) if tid not in kept]
    options = SandboxOptions(backend, limits or Limits(), not sandbox)

    def run(chunk: list[RunDir]) -> list[dict[str, Any]]:
        jobs: list[Job] = []
        records: list[dict[str, Any]] = []
        for rd in chunk:
            try:
                jobs.append(Job(rd.trial(), rd.organism_files()))
            except RunDirError as exc:  # changed since the host wrote it: refused, never run
                records.append({"trial_id": rd.trial().trial_id, "settings": key, "reason": f"refused: {exc}"[:1000]})
        if jobs:
            unit = Unit("audit", tuple(jobs), evaluate=False, detectors=settings.detectors,
                        audit_episodes=settings.episodes, audit_states=settings.states)  # fmt: skip
            result = run_unit(unit, SweepDir(dirs[0]).staging, options)
            with (out / SANDBOX_LOG).open("a") as f:
                f.write(json.dumps({"trials": unit.trial_ids, "reason": result.reason, **result.audit},
                                   default=str) + "\n")  # fmt: skip
            for job in jobs:
                tid = job.trial.trial_id
                staged = result.trials.get(tid, StagedTrial())
                if WORKER_FILE in staged.files or staged.problems:
                    observed, reason = judge(staged, tid, settings)
                else:  # the process ended before this organism (timeout, out of memory): say how it ended
                    observed, reason = {}, f"no output (sandbox: {result.reason})"
                records.append({"trial_id": tid, "settings": key, "backend": result.sandbox.get("backend"),
                                "observations": observed, "reason": reason})  # fmt: skip
        with kept_path.open("a") as f:  # kept as soon as they exist: a stop loses only the chunks in flight
            for rec in records:
                f.write(json.dumps(rec) + "\n")
        for rec in records:
            if on_done is not None:
                on_done(rec["trial_id"], rec.get("reason", ""))
        return records

    with ThreadPoolExecutor(max(1, workers)) as pool:
        size = max(1, min(CHUNK, -(-len(pending) // max(1, workers))))
        for records in pool.map(run, list(_chunks(pending, size))):
            kept.update({r["trial_id"]: r for r in records})
    table = score_organisms(meta, kept, settings.detectors)
    table.insert(0, "sweep", [Path(d).name for d in table.pop("runs")])
    table.to_parquet(out / DETECTION_TABLE, index=False)
    table.to_csv((out / DETECTION_TABLE).with_suffix(".csv"), index=False)
    return table
