"""One cost model: how long a unit of work takes — the planner's order of units and the dry run's estimate.

A unit is one sandboxed process. Its time is the process's start-up, the training of
each of its training runs once, to the run's largest budget (budgets are checkpoints of
one run; a run going on from a handover trains only the rest), and the evaluation of each
organism. Training costs seconds per organism-step, by trainer and parameter count:

- by default, a line in parameters fitted to ``benchmarks/train_throughput.py``'s table in
  docs/benchmarks.md (per organism-step, a population at the size the planner chooses:
  1.3 µs at 1e3 parameters, 4.9 µs at 1e4, 36 µs at 1e5; one organism by stable-baselines3:
  20 µs, 25 µs, 60 µs);
- in a dry run, measured here, in the sandbox, with the trainer and population size the
  plan uses (:func:`bestiary.planning.measured_model`), interpolated in log-log between the
  smallest and largest organisms measured.

The sweep's wall time is the makespan of its units on its workers when each free worker
takes the longest unit left (:func:`makespan`, the order :func:`~bestiary.units.units_of`
hands them out in).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bestiary.organisms.protocol import run_identity
from bestiary.organisms.unit import Unit

#: Seconds per organism-step ≈ slope × (parameters + offset), by trainer (see the module docstring).
DEFAULT_STEP_COST: dict[str, tuple[float, float]] = {"population": (3.5e-10, 2_700.0), "sb3": (4.0e-10, 48_500.0)}
#: Seconds a sandboxed process takes to start (Python, torch, the environments) and end.
STARTUP_SECONDS = 1.5
#: Seconds to evaluate an organism, per 1,000 episodes of each condition (the precursors included).
EVALUATION_SECONDS_PER_1000 = 0.25

#: ``(trainer, parameters)`` → seconds per organism-step.
StepCost = Callable[[str, int], float]


def default_step_cost(trainer: str, params: int) -> float:
    """Seconds per organism-step from the benchmark table (see the module docstring)."""
    slope, offset = DEFAULT_STEP_COST.get(trainer, DEFAULT_STEP_COST["sb3"])
    return slope * (params + offset)


def interpolated(points: Mapping[str, Sequence[tuple[int, float]]], fallback: StepCost = default_step_cost) -> StepCost:
    """A step cost through measured ``(parameters, seconds per organism-step)`` points per trainer, log-log.

    A trainer with one point is scaled from the fallback through it; a trainer with none uses the fallback.
    """

    def cost(trainer: str, params: int) -> float:
        measured = sorted(points.get(trainer, ()))
        if not measured:
            return fallback(trainer, params)
        if len(measured) == 1 or measured[0][0] == measured[-1][0]:
            p0, c0 = measured[0]
            return c0 * fallback(trainer, params) / fallback(trainer, p0)
        (p0, c0), (p1, c1) = measured[0], measured[-1]
        slope = math.log(c1 / c0) / math.log(p1 / p0)
        return c0 * (params / p0) ** slope

    return cost


@dataclass(frozen=True)
class CostModel:
    """Seconds of a unit (see the module docstring).

    Attributes:
        step_cost: Seconds per organism-step by trainer and parameter count.
        startup: Seconds per sandboxed process.
        evaluation_per_1000: Seconds per organism per 1,000 evaluation episodes of each condition.
    """

    step_cost: StepCost = field(default=default_step_cost)
    startup: float = STARTUP_SECONDS
    evaluation_per_1000: float = EVALUATION_SECONDS_PER_1000

    def training_seconds(self, unit: Unit) -> float:
        """Each training run once, from where it starts to its largest budget."""
        runs: dict[str, tuple[int, int]] = {}
        for job in unit.jobs:
            t = job.trial
            key = run_identity(t)
            runs[key] = (max(runs.get(key, (0, 0))[0], t.timesteps - job.resumes_at), t.params)
        return sum(steps * self.step_cost(unit.trainer, params) for steps, params in runs.values())

    def unit_seconds(self, unit: Unit) -> float:
        """Start-up, training and evaluation of one unit."""
        evaluation = 0.0
        if unit.evaluate or unit.command == "evaluate":
            evaluation = sum(self.evaluation_per_1000 * j.trial.evaluation.episodes / 1000 for j in unit.jobs)
        return self.startup + self.training_seconds(unit) + evaluation


def makespan(seconds: Sequence[float], workers: int) -> float:
    """Wall time of jobs taken longest first by whichever of ``workers`` is free first."""
    free = [0.0] * max(1, min(workers, len(seconds) or 1))
    for s in sorted(seconds, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + s)
    return max(free)
