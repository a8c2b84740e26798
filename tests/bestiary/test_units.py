"""Grouping trials into units: streams kept together, populations capped, the longest handed out first."""

from __future__ import annotations

import pytest

from bestiary.costs import CostModel
from bestiary.organisms import TrialSpec, resolve
from bestiary.organisms.protocol import HANDOVER
from bestiary.units import Resume, hand_over_points, max_population, units_of

unit_cost = CostModel().training_seconds


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


def test_runs_split_by_a_seal_are_handed_over_at_their_last_budget_before_it() -> None:
    trials = _trials([2, 8], seeds=2, budgets=[10_000, 30_000, 90_000])  # runs of two widths share seeds
    before, after = [t for t in trials if t.timesteps <= 30_000], [t for t in trials if t.timesteps > 30_000]
    handed = hand_over_points(before, after)
    assert handed == {t.trial_id for t in before if t.timesteps == 30_000} and len(handed) == 4
    for unit in units_of(before, hand_over=handed):
        assert unit.hand_over == handed & set(unit.trial_ids) and len(unit.manifest().hand_over) == 2
    assert hand_over_points(before, []) == frozenset()  # a run the seal does not split is not handed over


def test_runs_that_go_on_are_grouped_apart_carry_their_handover_once_and_cost_the_rest() -> None:
    trials = _trials([2], seeds=3, budgets=[90_000, 270_000])
    resumed = {t.trial_id: Resume(b"state-%d" % t.seed, 30_000) for t in trials if t.seed < 2}
    units = units_of(trials + _trials([8], seeds=3, budgets=[90_000]), resume=resumed)
    assert len(units) == 3  # the width-8 runs (whose seeds are the same) start from zero
    units = [u for u in units if u.jobs[0].trial.width == 2]  # the two runs going on from 30,000 steps, and one
    going_on = next(u for u in units if any(j.source for j in u.jobs))
    assert {j.trial.seed for j in going_on.jobs} == {0, 1}
    sources = [j.source for j in going_on.jobs if j.source]
    assert sorted(s[HANDOVER] for s in sources) == [b"state-0", b"state-1"]  # once per run
    fresh = next(u for u in units if u is not going_on)
    assert unit_cost(going_on) == pytest.approx(2 * unit_cost(fresh) * (270_000 - 30_000) / 270_000)
