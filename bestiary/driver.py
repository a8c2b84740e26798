"""The sweep's driver: claim trials, run them with an executor, record their outcomes, retry failures.

The driver is the only place where attempts are counted and failures retried. Every
trial's ``status.json`` is the source of truth: ``done`` trials are skipped, ``running``
ones (the driver or a worker was killed) and ``failed`` ones with attempts left are run
again. Before running a trial the driver *claims* it (:mod:`bestiary.organisms.claims`),
so two sweeps of one spec — on one machine or several sharing a filesystem — never
train the same organism twice: a trial claimed by a live sweep is waited for and counted
when it is done, one claimed by a dead one is taken over.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bestiary.organisms import ResolvedTrial, RunDir, TrialSpec
from bestiary.organisms.claims import Claim, Heartbeat, held_by_a_live_owner, try_claim
from bestiary.organisms.finalize import TrialOutcome, begin, complete_early, finalize
from bestiary.organisms.readback import StagedTrial
from bestiary.organisms.rundir import RunDirError, Status
from bestiary.organisms.staging import UnitResult
from bestiary.organisms.unit import Job, Unit
from bestiary.sandbox import SandboxUnavailable
from bestiary.sandbox.result import timestamp
from bestiary.sweep_spec import SweepSpec
from bestiary.units import Resume, units_of

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


def runnable(p: PlannedTrial, retries: int) -> bool:
    """Whether a trial is still to run: not done, and not failed with every retry used."""
    return p.state != "done" and not (p.state == "failed" and p.attempts > retries)


def drive(
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
