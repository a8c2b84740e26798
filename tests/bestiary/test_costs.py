"""The one cost model: units cost their start-up, each training run once, and their evaluations."""

from __future__ import annotations

import math

import pytest

from bestiary.costs import CostModel, default_step_cost, interpolated, makespan
from bestiary.organisms import TrialSpec, resolve
from bestiary.organisms.unit import Job, Unit

ENV = "bestiary/AbsentSupervisor-v0"


def _unit(budgets: list[int], seeds: int = 1, resumes_at: int = 0, trainer: str = "population") -> Unit:
    trials = [resolve(TrialSpec(env_id=ENV, width=4, seed=s, timesteps=b, trainer=trainer)) for s in range(seeds)
              for b in budgets]  # fmt: skip
    return Unit("train", tuple(Job(t, resumes_at=resumes_at) for t in trials), trainer=trainer)


def test_a_run_is_paid_once_to_its_largest_budget_and_from_its_handover() -> None:
    model = CostModel(step_cost=lambda trainer, params: 1.0, startup=0.0, evaluation_per_1000=0.0)
    assert model.training_seconds(_unit([10_000, 40_000], seeds=2)) == 2 * 40_000
    assert model.training_seconds(_unit([40_000], seeds=2, resumes_at=10_000)) == 2 * 30_000


def test_start_up_and_evaluation_are_counted_per_process_and_per_organism() -> None:
    unit = _unit([10_000, 40_000], seeds=2)
    model = CostModel(step_cost=lambda trainer, params: 0.0, startup=2.0, evaluation_per_1000=0.5)
    episodes = unit.jobs[0].trial.evaluation.episodes
    assert model.unit_seconds(unit) == pytest.approx(2.0 + 4 * 0.5 * episodes / 1000)


def test_populations_cost_less_per_organism_step_than_one_organism_alone() -> None:
    for params in (1_000, 10_000, 100_000):
        assert default_step_cost("population", params) < default_step_cost("sb3", params)


def test_measured_points_are_interpolated_in_log_log_and_unmeasured_trainers_fall_back() -> None:
    cost = interpolated({"population": [(100, 1e-6), (10_000, 1e-4)]})
    assert cost("population", 1_000) == pytest.approx(1e-5)
    assert cost("sb3", 1_000) == default_step_cost("sb3", 1_000)
    one = interpolated({"sb3": [(1_000, 2 * default_step_cost("sb3", 1_000))]})
    assert math.isclose(one("sb3", 50_000), 2 * default_step_cost("sb3", 50_000))


def test_the_makespan_gives_each_free_worker_the_longest_unit_left() -> None:
    assert makespan([5, 4, 3, 3, 3], workers=2) == 10  # 5 | 4, then 3 → 7, 3 → 8, 3 → 10 (not the optimum 9)
    assert makespan([1, 1, 1], workers=8) == 1
    assert makespan([], workers=2) == 0
