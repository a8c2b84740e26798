"""Planning a sweep without running it: the plan grouped for display, and a time estimate measured in the sandbox.

The estimate is the cost model's (:mod:`bestiary.costs`, the one the planner orders units
by) over the units the sweep would run, with training rates from short benchmarks of the
planned trainers at their planned population sizes *in the sandbox* (the host never
builds a model or trains), cached in the sweep directory's throughput file for this host
so a second dry run is instant.
"""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from bestiary.costs import CostModel, interpolated, makespan
from bestiary.organisms.protocol import WORKER_FILE, run_identity
from bestiary.organisms.schemas import OutputError, check_worker
from bestiary.organisms.staging import run_unit
from bestiary.organisms.sweepdir import SweepDir
from bestiary.organisms.unit import Job, SandboxOptions, Unit
from bestiary.phases import phases_of
from bestiary.sweep import PlannedTrial
from bestiary.sweep_spec import SweepSpec, describe_level
from bestiary.units import Resume, hand_over_points, units_of


@dataclass
class PlanGroup:
    """Trials that differ only in seed, for the dry run's table."""

    environment: str
    knobs: str
    params: int
    width: int
    depth: int
    timesteps: int
    seeds: list[int] = field(default_factory=list)
    states: list[str] = field(default_factory=list)


def plan_groups(planned: Sequence[PlannedTrial]) -> list[PlanGroup]:
    """The plan grouped by environment, knobs, architecture and timesteps (seeds and states gathered)."""
    groups: dict[tuple, PlanGroup] = {}
    for p in planned:
        t = p.trial
        knobs = json.dumps(t.env_kwargs, sort_keys=True) if t.env_kwargs else "defaults"
        key = (t.env_id, knobs, t.params, t.width, t.depth, t.timesteps)
        g = groups.setdefault(key, PlanGroup(*key))
        g.seeds.append(t.seed)
        g.states.append(p.state)
    return list(groups.values())


#: Seconds a seal takes per environment variant and training budget it forecasts at (fits and bootstraps;
#: measured on the quickstart's seals: 1.0 s for 3 variants × 2 budgets, 2.6 s for 3 × 3).
SEAL_SECONDS_PER_SLICE = 0.3


@dataclass
class PhaseEstimate:
    """One phase of the sweep as the dry run sees it: what it runs, how long, and the seal that ends it.

    Attributes:
        index: 1-based.
        level: The seal level that ends it, as text ("" for the phase after every seal, or a sweep without one).
        trials: Its trials not yet done.
        units: The sandboxed processes that train them (runs split by an earlier seal resumed, not retrained).
        seconds: Wall time of its units on the workers (the next phase waits for the last one: the seal's barrier).
        seal_seconds: Time of the seal that ends it (0 without one).
    """

    index: int
    level: str
    trials: list[PlannedTrial]
    units: list[Unit]
    seconds: float = 0.0
    seal_seconds: float = 0.0


def phase_estimates(sweep: SweepSpec, planned: Sequence[PlannedTrial]) -> list[PhaseEstimate]:
    """The sweep's phases with the units each would run (times are filled in by :func:`estimate_phases`)."""
    out = []
    earlier: list[PlannedTrial] = []
    phases = phases_of(sweep, planned)
    for i, phase in enumerate(phases):
        todo = [p for p in phase.trials if p.state != "done"]
        # A run whose smaller budgets an earlier phase trained goes on from its handover there.
        reached: dict[str, int] = {}
        for p in earlier:
            if p.trial.trainer == "population":
                key = run_identity(p.trial)
                reached[key] = max(reached.get(key, 0), p.trial.timesteps)
        resume = {p.trial.trial_id: Resume(b"", reached[run_identity(p.trial)]) for p in todo
                  if run_identity(p.trial) in reached}  # fmt: skip
        later = [p.trial for ph in phases[i + 1 :] for p in ph.trials]
        handed = hand_over_points([p.trial for p in phase.trials], later)
        units = units_of([p.trial for p in todo], hand_over=handed, resume=resume)
        level = describe_level(phase.bounds) if phase.bounds is not None else ""
        out.append(PhaseEstimate(phase.index, level, todo, units))
        earlier += phase.trials
    return out


def estimate_phases(
    phases: list[PhaseEstimate], workers: int, model: CostModel, planned: Sequence[PlannedTrial],
    sealed: frozenset[int] = frozenset(),
) -> float:  # fmt: skip
    """Fill in each phase's time under the cost model; the sweep's total (phases run one after another).

    Args:
        phases: From :func:`phase_estimates`.
        workers: Parallel units.
        model: The cost model.
        planned: Every planned trial (a seal forecasts at every budget of the sweep).
        sealed: Seals already made (they cost nothing more).
    """
    slices = {(t.trial.env_id, repr(sorted(t.trial.env_kwargs.items())), t.trial.timesteps) for t in planned}
    for ph in phases:
        ph.seconds = makespan([model.unit_seconds(u) for u in ph.units], workers) if ph.units else 0.0
        ph.seal_seconds = SEAL_SECONDS_PER_SLICE * len(slices) if ph.level and ph.index not in sealed else 0.0
    return sum(ph.seconds + ph.seal_seconds for ph in phases)


def environment_seconds(phases: Sequence[PhaseEstimate], model: CostModel) -> dict[str, float]:
    """Core-seconds of training and evaluation per environment (a unit holds one environment's organisms)."""
    out: dict[str, float] = {}
    for ph in phases:
        for u in ph.units:
            env = u.jobs[0].trial.env_id
            out[env] = out.get(env, 0.0) + model.unit_seconds(u)
    return out


def _read_cache(sweep_dir: SweepDir) -> dict[str, float]:
    data = sweep_dir.read_throughput()
    if not isinstance(data, dict) or data.get("host") != socket.gethostname():
        return {}
    points = data.get("step_seconds")
    if not isinstance(points, dict):
        return {}
    return {str(k): float(v) for k, v in points.items() if isinstance(v, (int, float)) and v > 0}


def _probe(unit: Unit) -> Unit:
    """A benchmark of ``unit``'s trainer at its size: one fresh organism per training run of it."""
    runs: dict[str, Job] = {}
    for job in unit.jobs:
        runs.setdefault(run_identity(job.trial), Job(job.trial))
    return Unit("benchmark", tuple(runs.values()), evaluate=False, trainer=unit.trainer)


def _key(probe: Unit) -> str:
    t = probe.jobs[0].trial
    return f"{probe.trainer}:{t.algo}:{t.params}:{len(probe.jobs)}"


def measured_model(
    units: Sequence[Unit], options: SandboxOptions, sweep_dir: SweepDir, seconds: float = 4.0
) -> tuple[CostModel, dict[str, float]]:
    """The cost model with training rates measured in the sandbox, with the trainers and population sizes planned.

    For each trainer of the plan, its unit of the fewest and of the most parameters is
    benchmarked (cached in the sweep's directory for this host), and the step cost is
    interpolated between them.

    Returns:
        The model, and the measured seconds per organism-step by ``trainer:algo:params:population``.

    Raises:
        SandboxUnavailable: If the sandbox cannot be established.
    """
    cache = _read_cache(sweep_dir)
    probes: dict[str, Unit] = {}
    for trainer in sorted({u.trainer for u in units}):
        mine = sorted((u for u in units if u.trainer == trainer), key=lambda u: u.jobs[0].trial.params)
        for unit in (mine[0], mine[-1]):
            probe = _probe(unit)
            probes.setdefault(_key(probe), probe)
    missing = [k for k in probes if k not in cache]
    for key in missing:
        probe = dataclasses.replace(probes[key], seconds=seconds)
        result = run_unit(probe, sweep_dir.staging, options)
        rates = []
        for job in probe.jobs:
            staged = result.trials.get(job.trial.trial_id)
            try:
                facts = check_worker(staged.files[WORKER_FILE]) if staged and WORKER_FILE in staged.files else None
            except OutputError:
                facts = None
            if facts is not None and facts.steps_per_second:
                rates.append(facts.steps_per_second)
        if rates:  # seconds per organism-step: the population's organism-steps are its size × each one's steps
            cache[key] = 1.0 / (sum(rates) / len(rates) * (len(probe.jobs) if probe.trainer == "population" else 1))
    if missing:
        sweep_dir.write_throughput({"host": socket.gethostname(), "step_seconds": cache})
    points: dict[str, list[tuple[int, float]]] = {}
    for key in probes:
        if key in cache:
            trainer, _, params, _ = key.split(":")
            points.setdefault(trainer, []).append((int(params), cache[key]))
    return CostModel(step_cost=interpolated(points)), {k: cache[k] for k in probes if k in cache}
