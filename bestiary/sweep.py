"""Running a sweep: expand the spec into trials, skip finished ones, run the rest, retry failures.

Every trial's run directory is ``runs/<sweep>/<trial-id>/`` and its ``status.json`` is
the source of truth: ``done`` trials are skipped, ``running`` ones (the driver or a worker
was killed) and ``failed`` ones with attempts left are run again. Re-running a sweep
therefore continues it, and no finished trial is lost or repeated.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bestiary.organisms import (
    EvalSpec,
    ResolvedTrial,
    TrialSpec,
    geometric_ladder,
    geometric_timesteps,
    resolve,
    train_organism,
)
from bestiary.organisms.runner import read_status
from bestiary.sandbox import Limits, SandboxUnavailable
from bestiary.sweep_spec import SweepSpec

SPEC_COPY = "sweep.yaml"


@dataclass(frozen=True)
class PlannedTrial:
    """One trial of a sweep, with what the sweep already knows about it."""

    spec: TrialSpec
    trial: ResolvedTrial
    run_dir: Path
    state: str  # pending | running | done | failed
    attempts: int


def expand(sweep: SweepSpec) -> list[TrialSpec]:
    """Every trial of the sweep: environment × knob variant × rung × depth × timesteps × seed."""
    specs = []
    evaluation = EvalSpec(**sweep.evaluation.model_dump())
    t = sweep.scale.timesteps
    steps: list[int | None] = (
        [None] if t is None else [t] if isinstance(t, int) else geometric_timesteps(t.min, t.max, t.rungs, multiple=1)
    )
    for env in sweep.environments:
        for kwargs in env.variants():
            for depth in sweep.scale.depths:
                if sweep.scale.params is not None:
                    probe = resolve(TrialSpec(env_id=env.id, env_kwargs=kwargs, width=1, depth=depth, algo=sweep.algo))
                    r = sweep.scale.params
                    widths = [
                        a.width
                        for a in geometric_ladder(
                            r.min, r.max, r.rungs, probe.obs_dim, probe.n_actions, depth, sweep.algo == "dqn"
                        )
                    ]
                else:
                    widths = list(sweep.scale.widths or [])
                for width in widths:
                    for timesteps in steps:
                        for seed in sweep.seed_list():
                            specs.append(
                                TrialSpec(
                                    env_id=env.id,
                                    env_kwargs=kwargs,
                                    algo=sweep.algo,
                                    hyperparameters=sweep.hyperparameters,
                                    width=width,
                                    depth=depth,
                                    seed=seed,
                                    timesteps=timesteps,
                                    evaluation=evaluation,
                                )
                            )
    return specs


def plan(sweep: SweepSpec, runs_root: Path | str = "runs") -> list[PlannedTrial]:
    """The sweep's trials with their run directories and current states.

    Raises:
        ValueError: If two trials resolve to the same id (a duplicated grid value).
    """
    root = Path(runs_root) / sweep.name
    planned, seen = [], set()
    for spec in expand(sweep):
        trial = resolve(spec)
        if trial.trial_id in seen:
            raise ValueError(
                f"two trials of sweep {sweep.name} resolve to {trial.trial_id}: a duplicated value in "
                f"the grid, widths or seeds"
            )
        seen.add(trial.trial_id)
        run_dir = root / trial.trial_id
        status = read_status(run_dir) if run_dir.exists() else {}
        planned.append(
            PlannedTrial(spec, trial, run_dir, status.get("state", "pending"), int(status.get("attempts", 0)))
        )
    return planned


def estimate_seconds(
    planned: list[PlannedTrial], workers: int, rate: Callable[[int], float], overhead: float = 4.0
) -> float:
    """Wall-clock estimate of the trials still to run, from a throughput model ``rate(params)`` (steps/s)."""
    todo = [p for p in planned if p.state != "done"]
    total = sum(p.trial.timesteps / rate(p.trial.params) + overhead for p in todo)
    return total / max(1, min(workers, len(todo) or 1))


def measured_rate(planned: list[PlannedTrial], seconds: float = 3.0) -> Callable[[int], float]:
    """A throughput model measured here: train briefly at the smallest and largest sizes, interpolate in log-log."""
    import torch

    from bestiary.organisms.train import build_model, make_training_env

    torch.set_num_threads(1)
    sizes = sorted({p.trial.params: p for p in planned}.items())
    if not sizes:
        return lambda params: 1.0
    points = []
    for _, p in (sizes[0], sizes[-1]) if len(sizes) > 1 else (sizes[0],):
        model = build_model(p.trial, make_training_env(p.trial))
        chunk = p.trial.n_envs * p.trial.hyperparameters.get("n_steps", 32)
        start, steps = time.perf_counter(), 0
        while time.perf_counter() - start < seconds / 2:
            model.learn(chunk, reset_num_timesteps=False)
            steps += chunk
        points.append((p.trial.params, steps / (time.perf_counter() - start)))
    if len(points) == 1:
        return lambda params: points[0][1]
    (p0, r0), (p1, r1) = points
    slope = math.log(r1 / r0) / math.log(p1 / p0) if p1 != p0 else 0.0
    return lambda params: r0 * (params / p0) ** slope


@dataclass
class SweepReport:
    """Counts after a sweep run."""

    done: int
    failed: int
    skipped: int
    run_dirs: list[Path]


def run_sweep(
    sweep: SweepSpec,
    spec_text: str,
    runs_root: Path | str = "runs",
    on_event: Callable[[str, PlannedTrial, Any], None] | None = None,
) -> SweepReport:
    """Run (or continue) a sweep with its executor.

    Args:
        sweep: The validated spec.
        spec_text: The spec file's text, copied to ``runs/<sweep>/sweep.yaml`` for provenance.
        runs_root: Parent of ``<sweep>/``.
        on_event: Called with ``("start" | "done" | "failed" | "retry", trial, detail)``.

    Raises:
        SandboxUnavailable: If the sandbox cannot be established (nothing runs).
    """
    root = Path(runs_root) / sweep.name
    root.mkdir(parents=True, exist_ok=True)
    (root / SPEC_COPY).write_text(spec_text)
    planned = plan(sweep, runs_root)
    todo = [p for p in planned if p.state != "done" and not (p.state == "failed" and p.attempts > sweep.retries)]
    skipped = len(planned) - len(todo)
    emit = on_event or (lambda *a: None)
    limits = Limits(
        memory_mb=sweep.sandbox.memory_mb,
        pids=sweep.sandbox.pids,
        cpus=sweep.sandbox.cpus,
        cpu_seconds=sweep.sandbox.cpu_seconds,
        wall_seconds=sweep.sandbox.wall_seconds,
    )
    if sweep.executor.kind == "ray":
        from bestiary.ray_executor import run_on_ray

        results = run_on_ray(sweep, todo, limits, emit)
        return SweepReport(results["done"], results["failed"], skipped, [p.run_dir for p in planned])

    workers = sweep.executor.workers or os.cpu_count() or 1
    done = failed = 0

    def attempt(p: PlannedTrial) -> str:
        emit("start", p, None)
        if p.state in ("running", "failed") and p.run_dir.exists():
            _clear_outputs(p.run_dir)  # an interrupted or failed attempt's partial files
        outcome = train_organism(p.spec, p.run_dir, sandbox=sweep.sandbox.enabled, limits=limits)
        return outcome.state if outcome.state == "done" else f"failed:{outcome.reason}"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: dict[Future, PlannedTrial] = {pool.submit(attempt, p): p for p in todo}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                p = pending.pop(fut)
                try:
                    result = fut.result()
                except SandboxUnavailable:
                    for f in pending:
                        f.cancel()
                    raise
                if result == "done":
                    done += 1
                    emit("done", p, None)
                    continue
                status = read_status(p.run_dir)
                if int(status.get("attempts", 0)) <= sweep.retries:
                    emit("retry", p, status.get("reason"))
                    retry = PlannedTrial(p.spec, p.trial, p.run_dir, "failed", int(status.get("attempts", 0)))
                    pending[pool.submit(attempt, retry)] = retry
                else:
                    failed += 1
                    emit("failed", p, status.get("reason"))
    return SweepReport(done, failed, skipped, [p.run_dir for p in planned])


_HOST_FILES = {"trial.json", "status.json", "card.json", "audit.jsonl"}


def _clear_outputs(run_dir: Path) -> None:
    """Remove what an unfinished attempt left (not the host's records), so a re-run starts clean."""
    for entry in run_dir.iterdir():
        if entry.name in _HOST_FILES:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
