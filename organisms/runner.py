"""The host side of one trial: write the spec, run the worker in the sandbox, record the outcome.

The host writes ``trial.json``, ``status.json`` (atomically, before and after) and
``card.json``; everything else in the run directory is the sandboxed worker's, and the
host reads only its JSON outputs, through :func:`bestiary.sandbox.read_output` (no link
is followed, nothing is unpickled).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bestiary.organisms.errors import OrganismFileError
from bestiary.organisms.files import write_json_atomic
from bestiary.organisms.protocol import PROGRESS_PREFIX, package_versions
from bestiary.organisms.spec import ResolvedTrial, TrialSpec, resolve
from bestiary.sandbox import Limits, Policy, SandboxResult, SandboxUnavailable, run
from bestiary.sandbox.outputs import read_json as read_json_output


@dataclass
class TrialOutcome:
    """What a trial produced.

    Attributes:
        run_dir: The run directory.
        trial: The resolved trial.
        state: ``done`` or ``failed``.
        reason: Why it failed (``error``, ``oom``, ``timeout``, ``cpu_limit``, ``pids_limit``,
            ``setup_failed``), or ``ok``.
        metrics: ``metrics.json`` when evaluated.
        card: ``card.json``.
        stderr_tail: The end of the worker's stderr (for failures).
    """

    run_dir: Path
    trial: ResolvedTrial
    state: str
    reason: str
    metrics: dict[str, Any] | None = None
    card: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""


def read_trial(run_dir: Path) -> ResolvedTrial:
    """The resolved trial of a run directory.

    Raises:
        OrganismFileError: If it is not a run directory.
    """
    data = read_json_output(Path(run_dir), "trial.json")
    if data is None:
        raise OrganismFileError(
            f"{run_dir} is not a run directory: no valid trial.json (expected the output of `bestiary train`)"
        )
    return ResolvedTrial.model_validate(data)


def read_status(run_dir: Path) -> dict[str, Any]:
    """``status.json`` of a run directory ({} if absent)."""
    return read_json_output(Path(run_dir), "status.json") or {}


def write_status(run_dir: Path, state: str, base: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """Atomically update ``status.json`` (keeping ``attempts`` and earlier timestamps).

    Args:
        run_dir: The run directory.
        state: The new state.
        base: The status to update; by default the file's current content. After a
            sandboxed run, pass the host's own copy from before it, since the run could
            have rewritten the file.
        **fields: Fields to set.
    """
    status = {**(read_status(run_dir) if base is None else base), "state": state, **fields, "updated": time.time()}
    write_json_atomic(Path(run_dir) / "status.json", status)
    return status


def git_revision(path: Path) -> str | None:
    """The git revision of the project the code runs from, if it is a git checkout."""
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _progress_sink(progress: Callable[[dict[str, Any]], None] | None) -> Callable[[bytes], None] | None:
    if progress is None:
        return None
    prefix = PROGRESS_PREFIX.encode()

    def on_line(line: bytes) -> None:
        if line.startswith(prefix):
            try:
                data = json.loads(line[len(prefix) :])
            except json.JSONDecodeError:
                return
            if isinstance(data, dict):
                progress(data)

    return on_line


def run_worker(
    run_dir: Path,
    trial: ResolvedTrial,
    args: list[str],
    *,
    sandbox: bool = True,
    limits: Limits | None = None,
    extra_ro: tuple[str, ...] = (),
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> TrialOutcome:
    """Run the worker for ``trial`` in ``run_dir`` and record status and card.

    Raises:
        SandboxUnavailable: If the sandbox cannot be established (status records
            ``setup_failed``); nothing ran.
    """
    run_dir = Path(run_dir).absolute()
    host_trial = trial.to_json()
    write_json_atomic(run_dir / "trial.json", host_trial)
    attempts = int(read_status(run_dir).get("attempts", 0)) + 1
    # The run directory is writable by the sandbox: keep the host's own status and card to update afterwards.
    status = write_status(run_dir, "running", attempts=attempts, started=time.time(), reason=None)
    card = read_json_output(run_dir, "card.json") or {}
    policy = Policy(limits=limits or Limits(), ro_binds=extra_ro)
    command = [sys.executable, "-m", "bestiary.organisms.worker", *args]
    try:
        result = run(
            command,
            run_dir,
            policy,
            backend="bwrap" if sandbox else "none",
            allow_unsandboxed=not sandbox,
            on_stdout_line=_progress_sink(progress),
        )
    except SandboxUnavailable as exc:
        write_status(run_dir, "failed", status, reason="setup_failed", error=str(exc), finished=time.time())
        raise
    finally:
        write_json_atomic(run_dir / "trial.json", host_trial)  # whatever the worker did to it
    return _record(run_dir, trial, result, policy, args, status, card)


def _record(
    run_dir: Path,
    trial: ResolvedTrial,
    result: SandboxResult,
    policy: Policy,
    args: list[str],
    status: dict[str, Any],
    card: dict[str, Any],
) -> TrialOutcome:
    metrics = read_json_output(run_dir, "metrics.json") if result.ok else None
    evaluating = args[0] == "evaluate" or "--evaluate" in args
    ok = result.ok and (metrics is not None or not evaluating)
    reason = result.reason if not result.ok else ("ok" if ok else "error")
    tail = result.stderr.decode(errors="replace")[-4000:]
    worker = read_json_output(run_dir, f"worker-{args[0]}.json") or {}
    card.update(
        {
            "trial": trial.to_json(),
            "trial_id": trial.trial_id,
            "params": trial.params,
            "width": trial.width,
            "depth": trial.depth,
            "host_versions": package_versions(),
            "git_revision": git_revision(Path(__file__).resolve().parents[1]),
            "sandbox": {
                "backend": result.backend,
                "unsandboxed": result.backend == "none",
                "layers": result.layers,
                "policy": policy.to_json(),
            },
        }
    )
    card.setdefault("runs", []).append(
        {
            "command": args[0],
            "reason": reason,
            **result.summary(),
            **{k: v for k, v in worker.items() if k != "versions"},
        }
    )
    if args[0] == "train":
        card["training_seconds"] = worker.get("training_seconds")
        card["versions"] = worker.get("versions")
        card["trained_unsandboxed"] = result.backend == "none"
    write_json_atomic(run_dir / "card.json", card)
    write_status(
        run_dir,
        "done" if ok else "failed",
        status,
        reason=reason,
        finished=time.time(),
        error=None if ok else tail[-1000:],
    )
    return TrialOutcome(run_dir, trial, "done" if ok else "failed", reason, metrics, card, tail)


def train_organism(
    spec: TrialSpec,
    run_dir: Path | str,
    *,
    evaluate: bool = True,
    sandbox: bool = True,
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
        limits: Sandbox limits (defaults: :class:`Limits`).
        source_dir: Run directory of an organism to continue training from (its
            architecture is kept; ``spec.oversight`` sets the new regime).
        progress: Receives progress dicts (timesteps, total, steps/s, violation rates).

    Raises:
        UnknownEnvironmentError, KnobError, ScaleError, OrganismError: For bad input,
            before anything runs.
        OrganismFileError: If ``source_dir`` holds no organism.
        SandboxUnavailable: If the sandbox cannot be established.
    """
    run_dir = Path(run_dir).absolute()
    source = None
    extra_ro: tuple[str, ...] = ()
    args = ["train", str(run_dir)]
    if source_dir is not None:
        source_dir = Path(source_dir).absolute()
        source = read_trial(source_dir)
        if not (source_dir / "organism" / "architecture.json").is_file():
            raise OrganismFileError(f"{source_dir} has no trained organism (organism/architecture.json is missing)")
        spec = spec.model_copy(update={"init_from": source.trial_id})
        extra_ro = (str(source_dir / "organism"),)
        args += ["--from", str(source_dir)]
    trial = resolve(spec, source)
    if evaluate:
        args.append("--evaluate")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_worker(run_dir, trial, args, sandbox=sandbox, limits=limits, extra_ro=extra_ro, progress=progress)


def evaluate_organism(run_dir: Path | str, *, sandbox: bool = True, limits: Limits | None = None) -> TrialOutcome:
    """Evaluate a trained organism again, in the sandbox.

    Raises:
        OrganismFileError: If ``run_dir`` is not an organism's run directory.
    """
    run_dir = Path(run_dir).absolute()
    trial = read_trial(run_dir)
    if not (run_dir / "organism" / "architecture.json").is_file():
        raise OrganismFileError(f"{run_dir} has no trained organism (organism/architecture.json is missing)")
    return run_worker(run_dir, trial, ["evaluate", str(run_dir)], sandbox=sandbox, limits=limits)
