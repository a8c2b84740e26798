"""Training or evaluating one organism from Python (or ``bestiary train``): claim, run in the sandbox, record.

These are the library's entry points for a single organism. A sweep does the same
steps for many organisms through an executor (:mod:`bestiary.executors`); both go
through :mod:`~bestiary.organisms.staging` (the sandboxed run) and
:mod:`~bestiary.organisms.finalize` (the host's record of it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bestiary.organisms.claims import try_claim
from bestiary.organisms.errors import OrganismError
from bestiary.organisms.finalize import TrialOutcome, begin, finalize
from bestiary.organisms.rundir import RunDir, RunDirError
from bestiary.organisms.spec import ResolvedTrial, TrialSpec, resolve
from bestiary.organisms.staging import run_unit
from bestiary.organisms.sweepdir import SweepDir
from bestiary.organisms.unit import Job, SandboxOptions, Unit
from bestiary.sandbox import Limits, SandboxUnavailable
from bestiary.sandbox.view import unsafe_directory


def read_trial(run_dir: Path | str) -> ResolvedTrial:
    """The resolved trial of a run directory.

    Raises:
        RunDirError: If it is not a run directory (with what was expected).
    """
    return RunDir(run_dir).trial()


def check_run_dir(path: Path | str) -> RunDir:
    """A run directory the host may write: not overlapping the runtime or sources, and not some other directory.

    Raises:
        OrganismError: If the path is refused, saying why and what would be right.
    """
    rd = RunDir(path)
    why = unsafe_directory(rd.path)
    if why is not None:
        raise OrganismError(f"refusing {rd.path} as a run directory: {why}. Give a new directory, e.g. runs/<name>.")
    if rd.path.is_dir() and any(rd.path.iterdir()) and not rd.exists():
        raise OrganismError(f"{rd.path} is not empty and is not a run directory; give a new directory")
    return rd


def _run_one(
    rd: RunDir,
    job: Job,
    unit: Unit,
    options: SandboxOptions,
    progress: Callable[[dict[str, Any]], None] | None,
) -> TrialOutcome:
    claim = try_claim(rd.path)
    if claim is None:
        raise OrganismError(f"{rd.path} is being run by another process (see its claim.json); try again later")
    try:
        status = begin(rd, job.trial)
        staging = SweepDir(rd.path.parent).staging  # beside the run directory, as a sweep's
        try:
            result = run_unit(unit, staging, options, (lambda _tid, p: progress(p)) if progress else None)
        except SandboxUnavailable as exc:
            rd.write_status(status.model_copy(update={"state": "failed", "reason": "setup_failed", "error": str(exc)}))
            raise
        return finalize(rd, job, unit, result, status, claim)
    finally:
        claim.release()


def train_organism(
    spec: TrialSpec,
    run_dir: Path | str,
    *,
    evaluate: bool = True,
    sandbox: bool = True,
    backend: str = "bwrap",
    limits: Limits | None = None,
    source_dir: Path | str | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> TrialOutcome:
    """Train (and by default evaluate) one organism in the sandbox.

    Args:
        spec: What to train.
        run_dir: The trial's run directory (created).
        evaluate: Evaluate after training, in the same sandboxed run.
        sandbox: False runs WITHOUT isolation (recorded in the card as unsandboxed).
        backend: The sandbox backend (``bwrap``, ``gvisor``, ...).
        limits: Sandbox limits (defaults: :class:`Limits`).
        source_dir: Run directory of an organism to continue training from (its
            architecture is kept; ``spec.oversight`` sets the new regime). Its files are
            copied into the sandbox after checking them against the host's record.
        progress: Receives progress dicts (timesteps, total, steps/s, violation rates).

    Raises:
        UnknownEnvironmentError, KnobError, ScaleError, OrganismError: For bad input,
            before anything runs.
        RunDirError: If ``source_dir`` holds no organism, or one changed since it was written.
        SandboxUnavailable: If the sandbox cannot be established.
    """
    rd = check_run_dir(run_dir)
    source, files = None, None
    if source_dir is not None:
        src = RunDir(source_dir)
        if not src.path.is_dir():
            raise OrganismError(f"--from {src.path}: no such run directory")
        source = src.trial()
        files = src.organism_files()
        spec = spec.model_copy(update={"init_from": source.trial_id})
    trial = resolve(spec, source)
    job = Job(trial, files)
    unit = Unit("train", (job,), evaluate=evaluate, trainer=trial.trainer)
    return _run_one(rd, job, unit, SandboxOptions(backend, limits or Limits(), not sandbox), progress)


def evaluate_organism(
    run_dir: Path | str, *, sandbox: bool = True, backend: str = "bwrap", limits: Limits | None = None
) -> TrialOutcome:
    """Evaluate a trained organism again, in the sandbox.

    Raises:
        RunDirError: If ``run_dir`` is not an organism's run directory, or its files
            changed since the host wrote them.
    """
    rd = RunDir(run_dir)
    if not rd.path.is_dir():
        raise RunDirError(f"{rd.path}: no such run directory")
    trial = rd.trial()
    job = Job(trial, rd.organism_files())
    unit = Unit("evaluate", (job,), evaluate=True)
    return _run_one(rd, job, unit, SandboxOptions(backend, limits or Limits(), not sandbox), None)
