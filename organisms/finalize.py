"""The host's side of a trial's attempt: mark it running, then check what came back and record it.

:func:`begin` writes ``trial.json`` and a ``running`` status with one more attempt.
:func:`finalize` takes one organism's part of a :class:`~bestiary.organisms.staging.UnitResult`,
checks every output against its schema and the host's record of the trial
(:mod:`bestiary.organisms.schemas`), writes the verified outputs into the run directory
with their SHA-256 in ``status.json``, builds the card from the host's own facts (the
worker's facts go, validated, under ``worker``; they never override the host's), appends
the audit record, and writes the final status last. A failure of any check is recorded as
the trial's reason — ``malformed_output``, the worker's ``nan`` or ``error``, or the
sandbox's — never raised.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from bestiary.organisms import rundir as R
from bestiary.organisms.claims import Claim
from bestiary.organisms.protocol import HANDOVER, WORKER_FILE, package_versions
from bestiary.organisms.readback import StagedTrial
from bestiary.organisms.rundir import RunDir, RunDirError, Status
from bestiary.organisms.schemas import (
    OutputError,
    check_handover,
    check_metrics,
    check_train_log,
    check_weights,
    check_worker,
)
from bestiary.organisms.spec import ResolvedTrial
from bestiary.organisms.staging import UnitResult
from bestiary.organisms.unit import Job, Unit

#: How many runs (train, evaluate, ...) the card keeps, newest last.
CARD_RUNS = 20


@dataclass
class TrialOutcome:
    """What an attempt at a trial produced.

    Attributes:
        run_dir: The run directory.
        trial: The resolved trial.
        state: ``done`` or ``failed``.
        reason: ``ok``, or why it failed (``error``, ``oom``, ``timeout``, ``cpu_limit``,
            ``pids_limit``, ``setup_failed``, ``malformed_output``, ``nan``, ``lost``, ...).
        metrics: The verified ``metrics.json`` when evaluated.
        card: ``card.json``.
        stderr_tail: The end of the worker's stderr (for failures).
        detail: What was wrong, in words, for failures.
    """

    run_dir: Path
    trial: ResolvedTrial
    state: str
    reason: str
    metrics: dict[str, Any] | None = None
    card: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""
    detail: str = ""


@cache
def git_revision() -> str | None:
    """The git revision of the project the code runs from, if it is a git checkout."""
    path = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def begin(rd: RunDir, trial: ResolvedTrial) -> Status:
    """Write ``trial.json`` and a ``running`` status with one more attempt; return that status.

    Raises:
        RunDirError: If the run directory's status cannot be read (it is left alone).
    """
    previous = rd.status()
    rd.write_trial(trial)
    status = previous.model_copy(
        update={
            "state": "running",
            "attempts": previous.attempts + 1,
            "started": time.time(),
            "finished": None,
            "reason": None,
            "error": None,
        }
    )
    return rd.write_status(status)


def _judge(job: Job, unit: Unit, result: UnitResult, staged: StagedTrial) -> tuple[str, str, dict[str, bytes], Any]:
    """(reason, detail, verified outputs to write, worker facts) for one organism."""
    trial = job.trial
    if result.error is not None:
        return result.error_reason, result.error, {}, None
    sandbox_reason = result.reason
    if sandbox_reason not in ("ok", "error"):
        return sandbox_reason, f"the sandbox ended the run: {sandbox_reason}", {}, None
    files = staged.files
    if WORKER_FILE not in files:
        tail = result.stderr_tail.strip()[-1500:]
        detail = "; ".join(staged.problems) or "the worker wrote no worker.json for this organism" + (
            f"; its stderr ends: {tail}" if tail else ""
        )
        return ("malformed_output" if staged.problems else "error"), detail, {}, None
    try:
        facts = check_worker(files[WORKER_FILE])
    except OutputError as exc:
        return "malformed_output", str(exc), {}, None
    if facts.error is not None:
        return facts.reason or "error", facts.error, {}, facts
    if staged.problems:
        return "malformed_output", "; ".join(staged.problems), {}, facts
    out: dict[str, bytes] = {}
    try:
        if unit.command == "train":
            for rel in (R.WEIGHTS_PATH, R.ARCHITECTURE_PATH, R.TRAIN_LOG):
                if rel not in files:
                    raise OutputError(f"{rel} is missing")
            check_weights(files[R.WEIGHTS_PATH], files[R.ARCHITECTURE_PATH], trial)
            check_train_log(files[R.TRAIN_LOG], trial)
            out |= {rel: files[rel] for rel in (R.WEIGHTS_PATH, R.ARCHITECTURE_PATH, R.TRAIN_LOG)}
            if HANDOVER in files:  # read back only where the host asked for one
                check_handover(files[HANDOVER], trial)
                out[HANDOVER] = files[HANDOVER]
        if unit.command == "evaluate" or unit.evaluate:
            if R.METRICS not in files:
                raise OutputError("metrics.json is missing")
            check_metrics(files[R.METRICS], trial)
            out[R.METRICS] = files[R.METRICS]
    except OutputError as exc:
        return "malformed_output", str(exc), {}, facts
    return "ok", "", out, facts


def _card(rd: RunDir, job: Job, unit: Unit, result: UnitResult, reason: str, facts: Any) -> dict[str, Any]:
    try:
        card = rd.card()
    except RunDirError:
        card = {}
    sandbox = result.sandbox
    previous = card.get("runs")
    runs: list = previous if isinstance(previous, list) else []
    worker = facts.model_dump(mode="json", exclude_none=True, exclude={"versions", "traceback"}) if facts else {}
    run = {
        "command": unit.command,
        "trainer": unit.trainer,
        "population": len(unit.jobs),
        "reason": reason,
        "node": result.node,
        **{k: sandbox.get(k) for k in ("backend", "exit_code", "wall_seconds", "cpu_seconds", "peak_memory_bytes")},
        "worker": worker,
    }
    if job.handover_of is not None:  # the training run went on from another trial's recorded state
        run["handover"] = {"of": job.handover_of, "sha256": job.handover_sha256, "timesteps": job.resumes_at}
    trial = job.trial
    card.update(
        {
            "trial": trial.to_json(),
            "trial_id": trial.trial_id,
            "params": trial.params,
            "width": trial.width,
            "depth": trial.depth,
            "env_code": trial.env_code,
            "host_versions": package_versions(),
            "git_revision": git_revision(),
            "sandbox": {
                "backend": sandbox.get("backend"),
                "unsandboxed": sandbox.get("backend") == "none",
                "layers": sandbox.get("layers"),
                "policy": sandbox.get("policy"),
            },
            "runs": [*runs, run][-CARD_RUNS:],
        }
    )
    if unit.command == "train" and reason == "ok":
        card["training_seconds"] = facts.training_seconds
        card["versions"] = facts.versions
        card["trained_unsandboxed"] = sandbox.get("backend") == "none"
        card["trainer"] = unit.trainer
    return card


def finalize(
    rd: RunDir, job: Job, unit: Unit, result: UnitResult, status: Status, claim: Claim | None = None
) -> TrialOutcome:
    """Check one organism's outputs and record the attempt in its run directory.

    Args:
        rd: The organism's run directory.
        job: Its part of the unit.
        unit: The unit it ran in.
        result: What came back from the unit.
        status: The host's ``running`` status from :func:`begin` (never re-read from disk).
        claim: The claim held on the run directory; if it was lost meanwhile nothing is written.
    """
    trial = job.trial
    staged = result.trials.get(trial.trial_id, StagedTrial())
    reason, detail, outputs, facts = _judge(job, unit, result, staged)
    if claim is not None and not claim.held():
        return TrialOutcome(
            rd.path, trial, "failed", "claim_lost", None, {}, result.stderr_tail, "the claim was taken over"
        )
    recorded = dict(status.outputs) if unit.command == "evaluate" else {}
    if reason == "ok":
        if unit.command == "train":
            rd.clear_outputs()
        for rel, data in outputs.items():
            recorded[rel] = rd.write_output(rel, data)
    elif unit.command == "train":
        rd.clear_outputs()
    card = _card(rd, job, unit, result, reason, facts)
    rd.write_card(card)
    rd.append_audit({**result.audit, "trial_id": trial.trial_id, "verdict": reason})
    ok = reason == "ok"
    rd.write_status(
        status.model_copy(
            update={
                "state": "done" if ok else "failed",
                "reason": reason,
                "finished": time.time(),
                "error": None if ok else (detail or result.stderr_tail[-1000:])[-1000:],
                "node": result.node,
                "outputs": recorded,
            }
        )
    )
    metrics = None
    if ok and R.METRICS in outputs:
        metrics = rd.metrics()
    return TrialOutcome(rd.path, trial, "done" if ok else "failed", reason, metrics, card, result.stderr_tail, detail)


def complete_early(rd: RunDir, trial: ResolvedTrial, result: UnitResult) -> None:
    """Complete an organism recorded before its unit ended: append the unit's audit record, add the sandbox's facts."""
    rd.append_audit({**result.audit, "trial_id": trial.trial_id, "verdict": "recorded before the unit ended"})
    try:
        card = rd.card()
    except RunDirError:
        return
    sandbox = result.sandbox
    runs = card.get("runs")
    if isinstance(runs, list) and runs and isinstance(runs[-1], dict):
        runs[-1].update({k: sandbox.get(k) for k in ("exit_code", "wall_seconds", "cpu_seconds", "peak_memory_bytes")})
        runs[-1]["unit_reason"] = result.reason
    if isinstance(card.get("sandbox"), dict):
        card["sandbox"]["layers"] = sandbox.get("layers")
    rd.write_card(card)
