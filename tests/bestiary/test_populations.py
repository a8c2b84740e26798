"""Grouping trials into units: streams kept together, populations capped, the longest handed out first."""

from __future__ import annotations

from bestiary.organisms import TrialSpec, resolve
from bestiary.populations import max_population, unit_cost, units_of


def _trials(widths: list[int], seeds: int, budgets: list[int]) -> list:
    return [
        resolve(TrialSpec(env_id="bestiary/AbsentSupervisor-v0", width=w, seed=s, timesteps=t, trainer="population"))
        for w in widths
        for s in range(seeds)
        for t in budgets
    ]


def test_every_budget_of_a_stream_is_one_unit_and_shapes_never_mix() -> None:
    units = units_of(_trials([2, 8], seeds=3, budgets=[10_000, 30_000]))
    assert len(units) == 2  # one population per width, each of 3 streams × 2 budgets
    for u in units:
        assert len({j.trial.width for j in u.jobs}) == 1 and len(u.jobs) == 6


def test_populations_are_capped_and_split_evenly() -> None:
    trials = _trials([2], seeds=max_population(100) + 1, budgets=[10_000])
    sizes = sorted(len(u.jobs) for u in units_of(trials))
    assert len(sizes) == 2 and sizes[-1] - sizes[0] <= 1


def test_the_longest_units_come_first() -> None:
    units = units_of(_trials([2, 64, 8], seeds=2, budgets=[10_000, 40_000]))
    costs = [unit_cost(u) for u in units]
    assert costs == sorted(costs, reverse=True)
    assert units[0].jobs[0].trial.width == 64
    # A stream is paid once, at its largest budget, not once per budget.
    one = units_of(_trials([2], seeds=1, budgets=[10_000, 40_000]))[0]
    assert unit_cost(one) == unit_cost(units_of(_trials([2], seeds=1, budgets=[40_000]))[0])
