"""Running a sweep: expand the spec into trials, claim them, run them with an executor, retry failures.

The driver is the only place where attempts are counted and failures retried. Every
trial's run directory is ``runs/<sweep>/<trial-id>/`` (a :class:`~bestiary.organisms.RunDir`)
and its ``status.json`` is the source of truth: ``done`` trials are skipped, ``running``
ones (the driver or a worker was killed) and ``failed`` ones with attempts left are run
again. Before running a trial the driver *claims* it (:mod:`bestiary.organisms.claims`),
so two sweeps of one spec — on one machine or several sharing a filesystem — never
train the same organism twice: a trial claimed by a live sweep is waited for and counted
when it is done, one claimed by a dead one is taken over. ``runs/<sweep>/plan.json``
lists the trials the host planned; ``bestiary collect`` reads only those.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bestiary.analysis.sealed import ForecastError
from bestiary.executors import make_executor
from bestiary.organisms import EvalSpec, ResolvedTrial, RunDir, TrialSpec, resolve
from bestiary.organisms.claims import Claim, Heartbeat, held_by_a_live_owner, try_claim
from bestiary.organisms.finalize import TrialOutcome, begin, complete_early, finalize
from bestiary.organisms.ladder import geometric_ladder, geometric_timesteps
from bestiary.organisms.readback import StagedTrial
from bestiary.organisms.rundir import RunDirError, Status
from bestiary.organisms.staging import UnitResult
from bestiary.organisms.sweepdir import SweepDir
from bestiary.organisms.unit import Job, SandboxOptions, Unit
from bestiary.sandbox import Limits, SandboxUnavailable
from bestiary.sandbox.result import timestamp
from bestiary.sealing import is_before, seal
from bestiary.sweep_spec import SpecError, SweepSpec
from bestiary.units import Resume, hand_over_points, resumes, units_of

#: Seconds between looks at trials that another sweep is running.
WAIT_POLL = 2.0

#: (kind, the trial — None for the sweep's own events such as ``sealed`` —, detail).
Event = Callable[[str, "PlannedTrial | None", Any], None]


@dataclass(frozen=True)
class PlannedTrial:
    """One trial of a sweep, with what the sweep already knows about it."""

    spec: TrialSpec
    trial: ResolvedTrial
    run_dir: RunDir
    status: Status

    @property
    def state(self) -> str:
        """``pending``, ``running``, ``done`` or ``failed``."""
        return self.status.state

    @property
    def attempts(self) -> int:
        """Attempts made so far."""
        return self.status.attempts


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

    Raises:
        SpecError: If two trials resolve to the same id (a duplicated grid value), or the
            grid is too large.
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
        rd = sweep_dir.run_dir(trial.trial_id)
        planned.append(PlannedTrial(spec, trial, rd, rd.status()))
    return planned


def options_of(sweep: SweepSpec, runs_root: Path) -> SandboxOptions:
    """How the sweep's units are sandboxed (the runs directory hidden from them)."""
    s = sweep.sandbox.model_dump()  # type: ignore[attr-defined]  # SandboxSpec is built from Limits' fields
    limits = Limits(**{k: s[k] for k in Limits.__dataclass_fields__})
    return SandboxOptions(s["backend"], limits, not s["enabled"], hide=(str(Path(runs_root).absolute()),))


@dataclass
class SweepReport:
    """Counts after a sweep run.

    Attributes:
        done: Trials this run finished, plus those it waited for another sweep to finish.
        failed: Trials that failed and have no attempts left.
        skipped: Trials already done (or out of attempts) when the run started.
        waited: Of ``done``, trials that another sweep finished while this one waited.
        outcomes: This run's final outcome of every trial it ran.
    """

    done: int = 0
    failed: int = 0
    skipped: int = 0
    waited: int = 0
    outcomes: list[TrialOutcome] = field(default_factory=list)


def _runnable(p: PlannedTrial, retries: int) -> bool:
    return p.state != "done" and not (p.state == "failed" and p.attempts > retries)


def run_sweep(
    sweep: SweepSpec,
    spec_text: str,
    runs_root: Path | str = "runs",
    on_event: Event | None = None,
    stop_after_seal: bool = False,
) -> SweepReport:
    """Run (or continue) a sweep with its executor.

    Args:
        sweep: The validated spec.
        spec_text: The spec file's text, copied to ``runs/<sweep>/sweep.yaml`` for provenance.
        runs_root: Parent of ``<sweep>/``.
        on_event: Called with ``(kind, trial, detail)`` for ``start``, ``done``, ``failed``,
            ``retry``, ``waiting`` (another sweep holds the trial) and ``sealed`` (the forecast).
        stop_after_seal: With a ``forecast:`` section, stop once the forecast is sealed (so it can be
            committed before the organisms it forecasts are trained).

    Raises:
        SandboxUnavailable: If the sandbox cannot be established (nothing more runs).
    """
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
    report = SweepReport(skipped=sum(not _runnable(p, sweep.retries) for p in planned))
    heartbeat = Heartbeat()
    todo = [p for p in planned if _runnable(p, sweep.retries)]
    try:
        if sweep.forecast is None:
            _drive(sweep, todo, executor, heartbeat, emit, report)
        else:  # the organisms below the bounds, the sealed forecast, then the rest
            before = [p for p in planned if is_before(sweep.forecast, p.trial)]
            after = [p for p in planned if not is_before(sweep.forecast, p.trial)]
            first = {p.trial.trial_id for p in before}
            # A run split by the seal is handed over at its last budget before it, and goes on after it.
            handed = hand_over_points([p.trial for p in before], [p.trial for p in after])
            _drive(sweep, [p for p in todo if p.trial.trial_id in first], executor, heartbeat, emit, report, handed)
            try:
                path, written = seal(sweep.forecast, sweep_dir.path, before, after)
                emit("sealed", None, f"{path} ({'sealed now' if written else 'kept: it was sealed before'})")
            except ForecastError as exc:  # e.g. every organism below the bounds failed: recorded, and the sweep goes on
                why = f"no forecast could be sealed from the organisms below the bounds: {exc}"
                sweep_dir.log_forecast({"created": timestamp(), "refused": why})
                emit("seal_failed", None, why + f" (recorded in {sweep_dir.forecast_log}; the organisms above the "
                     "bounds are trained without a forecast — a rerun tries the seal again)")  # fmt: skip
            if not stop_after_seal:
                rest = [p for p in todo if p.trial.trial_id not in first]
                goes_on = resumes([(p.trial, p.run_dir) for p in before], [p.trial for p in rest])
                _drive(sweep, rest, executor, heartbeat, emit, report, resume=goes_on)
    finally:
        heartbeat.stop()
    return report


def _drive(
    sweep: SweepSpec,
    todo: list[PlannedTrial],
    executor: Any,
    heartbeat: Heartbeat,
    emit: Event,
    report: SweepReport,
    hand_over: frozenset[str] = frozenset(),
    resume: dict[str, Resume] | None = None,
) -> None:
    """Claim, run, finalize and retry until every trial is done, failed for good, or finished by another sweep."""
    by_id = {p.trial.trial_id: p for p in todo}
    queue = list(todo)
    waiting: dict[str, PlannedTrial] = {}
    first_round = True
    while queue or waiting:
        claims: dict[str, Claim] = {}
        for p in queue:
            claim = try_claim(p.run_dir.path)
            if claim is None:
                waiting[p.trial.trial_id] = p
                emit("waiting", p, None)
            else:
                claims[p.trial.trial_id] = claim
                heartbeat.add(claim)
        # Populations in the first round; a trial that failed is retried alone.
        trials = [by_id[tid].trial for tid in claims]
        units = units_of(trials, singletons=not first_round, hand_over=hand_over, resume=resume)
        first_round = False
        rnd = _Round(by_id, claims, heartbeat, sweep.retries, emit, report, waiting)
        try:
            for result in executor.run(units, rnd.start, early=rnd.early):
                rnd.record(result)
        except SandboxUnavailable as exc:
            rnd.abort(exc)
            raise
        finally:
            rnd.release()
        queue = rnd.retry + _poll_waiting(waiting, sweep.retries, emit, report)
        if waiting and not queue:
            time.sleep(WAIT_POLL)


class _Round:
    """One round of the driver: the claimed trials' statuses, and their outcomes as they come (from any thread)."""

    def __init__(
        self,
        by_id: dict[str, PlannedTrial],
        claims: dict[str, Claim],
        heartbeat: Heartbeat,
        retries: int,
        emit: Event,
        report: SweepReport,
        waiting: dict[str, PlannedTrial],
    ) -> None:
        self.by_id, self.claims, self.heartbeat, self.retries = by_id, claims, heartbeat, retries
        self.emit, self.report, self.waiting = emit, report, waiting
        self.statuses: dict[str, Status] = {}
        self.retry: list[PlannedTrial] = []
        self.lock = threading.Lock()

    def start(self, unit: Unit) -> None:
        """A unit is starting: its trials are running, one more attempt each."""
        for job in unit.jobs:
            p = self.by_id[job.trial.trial_id]
            status = begin(p.run_dir, job.trial)
            with self.lock:
                self.statuses[job.trial.trial_id] = status
                self.emit("start", p, None)

    def early(self, unit: Unit, tid: str, staged: StagedTrial, sandbox: dict[str, Any]) -> None:
        """An organism finished before its unit: record it now (a kill of the sweep will not lose it)."""
        job = next(j for j in unit.jobs if j.trial.trial_id == tid)
        note = "recorded when the worker reported the organism complete; the unit's sandbox record follows at its end"
        provisional = UnitResult(unit, {tid: staged}, {**sandbox, "reason": "ok"}, {"time": timestamp(), "note": note})
        self._finalize(job, provisional)

    def record(self, result: UnitResult) -> None:
        """A unit ended: record its trials (those not recorded early), and complete the early ones' records."""
        for job in result.unit.jobs:
            tid = job.trial.trial_id
            if tid in result.early:
                complete_early(self.by_id[tid].run_dir, job.trial, result)
            else:
                self._finalize(job, result)

    def _finalize(self, job: Job, result: UnitResult) -> None:
        tid = job.trial.trial_id
        p = self.by_id[tid]
        with self.lock:
            status, claim = self.statuses[tid], self.claims.get(tid)
        if claim is None:  # recorded already (or never claimed by this round): an organism is recorded once
            return
        outcome = finalize(p.run_dir, job, result.unit, result, status, claim)
        with self.lock:
            claim = self.claims.pop(tid, None)
            if claim is not None:
                self.heartbeat.discard(claim)
                claim.release()
            if outcome.state == "done":
                self.report.done += 1
                self.report.outcomes.append(outcome)
                self.emit("done", p, result.node)
            elif outcome.reason == "claim_lost":  # another sweep took the trial over: wait for it
                self.waiting[tid] = p
                self.emit("waiting", p, None)
            elif status.attempts <= self.retries:
                self.emit("retry", p, outcome.reason)
                self.retry.append(PlannedTrial(p.spec, p.trial, p.run_dir, p.run_dir.status()))
            else:
                self.report.failed += 1
                self.report.outcomes.append(outcome)
                detail = f"{outcome.reason}: {outcome.detail[:300]}" if outcome.detail else outcome.reason
                self.emit("failed", p, detail)

    def abort(self, exc: Exception) -> None:
        """The sandbox could not be set up: trials started but never finished ran nothing."""
        for tid in list(self.claims):
            if tid in self.statuses:
                update = {"state": "failed", "reason": "setup_failed", "error": str(exc)[:1000]}
                self.by_id[tid].run_dir.write_status(self.statuses[tid].model_copy(update=update))

    def release(self) -> None:
        """Release every claim still held."""
        with self.lock:
            for claim in self.claims.values():
                self.heartbeat.discard(claim)
                claim.release()
            self.claims.clear()


def _poll_waiting(
    waiting: dict[str, PlannedTrial], retries: int, emit: Event, report: SweepReport
) -> list[PlannedTrial]:
    """Trials another sweep held: count the ones it finished, take back the ones it dropped."""
    back = []
    for tid, p in list(waiting.items()):
        if held_by_a_live_owner(p.run_dir.path):  # a dead owner's claim is taken over: the trial is run again
            continue
        try:
            status = p.run_dir.status()
        except RunDirError as exc:
            waiting.pop(tid)
            report.failed += 1
            emit("failed", p, str(exc))
            continue
        waiting.pop(tid)
        if status.state == "done":
            report.done += 1
            report.waited += 1
            emit("done", p, "finished by another sweep")
        elif status.state == "failed" and status.attempts > retries:
            report.failed += 1
            emit("failed", p, status.reason)
        else:
            back.append(PlannedTrial(p.spec, p.trial, p.run_dir, status))
    return back
