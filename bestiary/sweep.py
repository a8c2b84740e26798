"""Running a sweep: expand the spec into trials, plan them, and run them phase by phase.

Every trial's run directory is ``runs/<sweep>/<trial-id>/`` (a :class:`~bestiary.organisms.RunDir`);
``runs/<sweep>/plan.json`` lists the trials the host planned, and ``bestiary collect`` reads
only those. The driver (:mod:`bestiary.driver`) claims, runs and retries them; a sweep with
seals runs in phases (:mod:`bestiary.phases`), each seal made before any organism above it exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bestiary.analysis.sealed import ForecastError
from bestiary.driver import Event, PlannedTrial, SweepReport, drive, runnable
from bestiary.executors import make_executor
from bestiary.organisms import EvalSpec, ResolvedTrial, TrialSpec, resolve
from bestiary.organisms.claims import Heartbeat
from bestiary.organisms.ladder import geometric_ladder, geometric_timesteps
from bestiary.organisms.sweepdir import SweepDir
from bestiary.organisms.unit import SandboxOptions
from bestiary.phases import check_seals, coordinates, phases_of
from bestiary.sandbox import Limits
from bestiary.sandbox.result import timestamp
from bestiary.sealing import seal
from bestiary.sweep_spec import SpecError, SweepSpec
from bestiary.units import hand_over_points, resumes

__all__ = ["PlannedTrial", "SweepReport", "count_trials", "expand", "options_of", "plan", "run_sweep", "under_cap"]


def count_trials(sweep: SweepSpec) -> int:
    """How many trials the sweep's grid has (computed without building them)."""
    t = sweep.scale.timesteps
    steps = t.rungs if t is not None and not isinstance(t, int) else 1
    rungs = sweep.scale.params.rungs if sweep.scale.params is not None else len(sweep.scale.widths or [])
    per_env = rungs * len(sweep.scale.depths) * steps * len(sweep.seed_list())
    return sum(len(env.variants()) * per_env for env in sweep.environments)


def expand(sweep: SweepSpec) -> list[TrialSpec]:
    """Every trial of the sweep: environment × knob variant × rung × depth × timesteps × seed.

    Raises:
        SpecError: If the grid has more trials than the spec's ``max_trials``.
    """
    n = count_trials(sweep)
    if n > sweep.max_trials:
        raise SpecError(
            f"the sweep {sweep.name} has {n:,} trials, more than `max_trials` = {sweep.max_trials:,}; shrink the grid "
            f"or raise `max_trials` in the spec"
        )
    specs = []
    t = sweep.scale.timesteps
    steps: list[int | None] = (
        [None] if t is None else [t] if isinstance(t, int) else [*geometric_timesteps(t.min, t.max, t.rungs)]
    )
    for env in sweep.environments:
        for kwargs in env.variants():
            for depth in sweep.scale.depths:
                widths = _widths(sweep, env.id, kwargs, depth)
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
                                    evaluation=EvalSpec(**sweep.evaluation.model_dump()),
                                    trainer=sweep.trainer,
                                    lr_rule=sweep.scale.lr_rule,
                                )
                            )
    return specs


def _widths(sweep: SweepSpec, env_id: str, kwargs: dict[str, Any], depth: int) -> list[int]:
    if sweep.scale.params is None:
        return list(sweep.scale.widths or [])
    probe = resolve(TrialSpec(env_id=env_id, env_kwargs=kwargs, width=1, depth=depth, algo=sweep.algo))
    r = sweep.scale.params
    ladder = geometric_ladder(
        r.min, r.max, r.rungs, probe.obs_dim, probe.n_actions, depth, sweep.algo == "dqn", sweep.algo == "recurrent_ppo"
    )
    return [a.width for a in ladder]


def plan(sweep: SweepSpec, runs_root: Path | str = "runs") -> list[PlannedTrial]:
    """The sweep's trials with their run directories and current states.

    Trials whose training compute exceeds ``scale.max_compute`` are left out (the grid's edge).

    Raises:
        SpecError: If two trials resolve to the same id (a duplicated grid value), the
            grid is too large, or its seals cannot be made (:func:`~bestiary.phases.check_seals`).
        RunDirError: If a run directory's status is unreadable (it names the file).
    """
    sweep_dir = SweepDir(Path(runs_root) / sweep.name)
    planned, seen = [], set()
    for spec in expand(sweep):
        trial = resolve(spec)
        if trial.trial_id in seen:
            raise SpecError(
                f"two trials of sweep {sweep.name} resolve to {trial.trial_id}: a duplicated value in "
                f"the grid, widths or seeds"
            )
        seen.add(trial.trial_id)
        if not under_cap(sweep, trial):
            continue  # beyond the compute cap: the grid's edge, not a trial
        rd = sweep_dir.run_dir(trial.trial_id)
        planned.append(PlannedTrial(spec, trial, rd, rd.status()))
    check_seals(sweep, planned, sweep_dir)
    return planned


def under_cap(sweep: SweepSpec, trial: ResolvedTrial) -> bool:
    """Whether a trial's training compute is within the spec's ``scale.max_compute`` (always, without a cap)."""
    cap = sweep.scale.max_compute
    return cap is None or coordinates(trial)[2] <= cap


def options_of(sweep: SweepSpec, runs_root: Path) -> SandboxOptions:
    """How the sweep's units are sandboxed (the runs directory hidden from them)."""
    s = sweep.sandbox.model_dump()  # type: ignore[attr-defined]  # SandboxSpec is built from Limits' fields
    limits = Limits(**{k: s[k] for k in Limits.__dataclass_fields__})
    return SandboxOptions(s["backend"], limits, not s["enabled"], hide=(str(Path(runs_root).absolute()),))


def run_sweep(
    sweep: SweepSpec,
    spec_text: str,
    runs_root: Path | str = "runs",
    on_event: Event | None = None,
    until_seal: int | None = None,
) -> SweepReport:
    """Run (or continue) a sweep with its executor, phase by phase (:mod:`bestiary.phases`).

    Args:
        sweep: The validated spec.
        spec_text: The spec file's text, copied to ``runs/<sweep>/sweep.yaml`` for provenance.
        runs_root: Parent of ``<sweep>/``.
        on_event: Called with ``(kind, trial, detail)`` for ``start``, ``done``, ``failed``,
            ``retry``, ``waiting`` (another sweep holds the trial), ``sealed`` and ``seal_failed``
            (a seal; the trial is None).
        until_seal: Stop right after this seal (1-based) is made, so it can be exported and
            committed before the organisms above it are trained.

    Raises:
        SandboxUnavailable: If the sandbox cannot be established (nothing more runs).
        SpecError: If ``until_seal`` names no seal of the spec.
    """
    seals = len(sweep.forecast.levels()) if sweep.forecast is not None else 0
    if until_seal is not None and not 1 <= until_seal <= seals:
        raise SpecError(f"--until-seal {until_seal}: the sweep {sweep.name} has {seals} seal(s) in its `forecast:`")
    runs_root = Path(runs_root).absolute()
    sweep_dir = SweepDir(runs_root / sweep.name)
    planned = plan(sweep, runs_root)
    sweep_dir.write_plan(spec_text, [p.trial.trial_id for p in planned])
    emit: Event = on_event or (lambda *a: None)
    executor = make_executor(
        sweep.executor.kind,
        options_of(sweep, runs_root),
        sweep_dir.staging,
        workers=sweep.executor.workers,
        address=sweep.executor.address,
    )
    report = SweepReport(skipped=sum(not runnable(p, sweep.retries) for p in planned))
    heartbeat = Heartbeat()
    todo = {p.trial.trial_id for p in planned if runnable(p, sweep.retries)}
    phases = phases_of(sweep, planned)
    try:
        for i, phase in enumerate(phases):
            earlier = [p for ph in phases[:i] for p in ph.trials]
            later = [p.trial for ph in phases[i + 1 :] for p in ph.trials]
            mine = [p for p in phase.trials if p.trial.trial_id in todo]
            # A training run split by a seal is handed over at its last budget before it, and goes on after it.
            handed = hand_over_points([p.trial for p in phase.trials], later)
            goes_on = resumes([(p.trial, p.run_dir) for p in earlier], [p.trial for p in mine]) if earlier else None
            drive(sweep, mine, executor, heartbeat, emit, report, handed, resume=goes_on)
            if phase.bounds is None:
                break
            _seal(sweep, sweep_dir, phase.index, [p for ph in phases[: i + 1] for p in ph.trials],
                  [p for ph in phases[i + 1 :] for p in ph.trials], emit)  # fmt: skip
            if until_seal == phase.index:
                break
    finally:
        heartbeat.stop()
    return report


def _seal(sweep: SweepSpec, sweep_dir: SweepDir, k: int, before: list, after: list, emit: Event) -> None:
    """Make seal ``k`` from the organisms ``before`` (unless made already); a refusal is recorded, not raised."""
    assert sweep.forecast is not None
    try:
        path, written = seal(sweep.forecast, sweep_dir.path, k, before, after)
        emit("sealed", None, f"seal {k}: {path} ({'sealed now' if written else 'kept: it was sealed before'})")
    except ForecastError as exc:  # e.g. every organism below the level failed: recorded, and the sweep goes on
        why = f"seal {k}: no forecast could be sealed from the organisms at or below its level: {exc}"
        sweep_dir.log_forecast({"created": timestamp(), "seal": k, "refused": why})
        emit("seal_failed", None, why + f" (recorded in {sweep_dir.forecast_log}; the organisms above it are "
             "trained without this forecast — a rerun tries the seal again)")  # fmt: skip
