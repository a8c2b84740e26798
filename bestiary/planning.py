"""Planning a sweep without running it: the plan grouped for display, and a time estimate measured in the sandbox.

The estimate's training rates come from a short training run of the smallest and the
largest organism *in the sandbox* (the host never builds a model or trains), cached in
``runs/<sweep>/throughput.json`` for this host so a second dry run is instant.
"""

from __future__ import annotations

import json
import math
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bestiary.organisms.protocol import WORKER_FILE
from bestiary.organisms.schemas import OutputError, check_worker
from bestiary.organisms.staging import Job, SandboxOptions, Unit, run_unit
from bestiary.organisms.sweepdir import SweepDir
from bestiary.sweep import PlannedTrial

#: Seconds per trial of start-up, evaluation and bookkeeping, besides training.
OVERHEAD_SECONDS = 4.0


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


def estimate_seconds(
    planned: Sequence[PlannedTrial], workers: int, rate: Callable[[int], float], overhead: float = OVERHEAD_SECONDS
) -> float:
    """Wall-clock estimate of the trials still to run, from a throughput model ``rate(params)`` (steps/s)."""
    todo = [p for p in planned if p.state != "done"]
    total = sum(p.trial.timesteps / max(rate(p.trial.params), 1e-9) + overhead for p in todo)
    return total / max(1, min(workers, len(todo) or 1))


def _read_cache(sweep_dir: SweepDir) -> dict[str, float]:
    data = sweep_dir.read_throughput()
    if not isinstance(data, dict) or data.get("host") != socket.gethostname():
        return {}
    points = data.get("points")
    return (
        {str(k): float(v) for k, v in points.items() if isinstance(v, (int, float))} if isinstance(points, dict) else {}
    )


def measured_rate(
    planned: Sequence[PlannedTrial], options: SandboxOptions, sweep_dir: SweepDir, seconds: float = 4.0
) -> Callable[[int], float]:
    """A throughput model (steps/s by parameter count) measured in the sandbox, interpolated in log-log.

    Raises:
        SandboxUnavailable: If the sandbox cannot be established.
    """
    if not planned:
        return lambda params: 1.0
    by_params = sorted({p.trial.params: p for p in planned}.items())
    ends = [by_params[0][1]] + ([by_params[-1][1]] if len(by_params) > 1 else [])
    points = _read_cache(sweep_dir)
    missing = [p for p in ends if f"{p.trial.algo}:{p.trial.params}" not in points]
    if missing:
        unit = Unit("benchmark", tuple(Job(p.trial) for p in missing), evaluate=False, seconds=seconds)
        result = run_unit(unit, sweep_dir.staging, options)
        for p in missing:
            staged = result.trials.get(p.trial.trial_id)
            try:
                facts = check_worker(staged.files[WORKER_FILE]) if staged and WORKER_FILE in staged.files else None
            except OutputError:
                facts = None
            if facts is not None and facts.steps_per_second:
                points[f"{p.trial.algo}:{p.trial.params}"] = facts.steps_per_second
        sweep_dir.write_throughput({"host": socket.gethostname(), "points": points})
    measured = [
        (p.trial.params, points[f"{p.trial.algo}:{p.trial.params}"])
        for p in ends
        if f"{p.trial.algo}:{p.trial.params}" in points
    ]
    if not measured:
        return lambda params: 1e4
    if len(measured) == 1:
        return lambda params: measured[0][1]
    (p0, r0), (p1, r1) = measured
    slope = math.log(r1 / r0) / math.log(p1 / p0) if p1 != p0 else 0.0
    return lambda params: r0 * (params / p0) ** slope
