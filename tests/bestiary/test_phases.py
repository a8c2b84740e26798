"""Compute-capped grids and seal levels: what is planned, in which phase, and which seals are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bestiary.organisms.compute import trial_flops
from bestiary.phases import phases_of, seal_problems
from bestiary.sweep import count_trials, plan, run_sweep
from bestiary.sweep_spec import SpecError, describe_level, parse_sweep, within

SPEC = """\
name: phased
environments:
  - id: bestiary/OffSwitch-v0
scale:
  params: {{min: 300, max: 30000, rungs: 5}}
  timesteps: {{min: 10000, max: 160000, rungs: 5}}
{cap}
seeds: 2
{forecast}
"""


def _planned(tmp_path: Path, cap: str = "", forecast: str = "") -> tuple:
    sweep = parse_sweep(SPEC.format(cap=cap, forecast=forecast))
    return sweep, plan(sweep, tmp_path / "runs")


def test_the_compute_cap_leaves_out_exactly_the_cells_above_it(tmp_path: Path) -> None:
    _, full = _planned(tmp_path)
    sweep, capped = _planned(tmp_path, cap="  max_compute: 1.0e11")
    assert len(full) == count_trials(sweep) == 50
    assert {p.trial.trial_id for p in capped} == {p.trial.trial_id for p in full if trial_flops(p.trial) <= 1e11}
    assert 0 < len(capped) < len(full)
    # Triangular: the largest networks keep only their smallest budgets.
    largest = max(p.trial.params for p in capped)
    assert {p.trial.timesteps for p in capped if p.trial.params == largest} < {p.trial.timesteps for p in full}


def test_seal_levels_make_nested_phases_each_trial_in_exactly_one(tmp_path: Path) -> None:
    sweep, planned = _planned(tmp_path, forecast="forecast: {compute: [1.0e9, 1.0e10, 1.0e11]}")
    phases = phases_of(sweep, planned)
    assert [ph.index for ph in phases] == [1, 2, 3, 4] and phases[-1].bounds is None
    assert sorted(p.trial.trial_id for ph in phases for p in ph.trials) == sorted(p.trial.trial_id for p in planned)
    levels = sweep.forecast.levels()
    for k, ph in enumerate(phases):
        for p in ph.trials:
            flops = trial_flops(p.trial)
            assert k == len(levels) or flops <= levels[k]["compute"]
            assert k == 0 or flops > levels[k - 1]["compute"]  # not in an earlier phase
    assert describe_level(levels[0]) == "compute ≤ 1e+09"


def test_a_seal_that_could_only_forecast_nulls_is_refused_with_the_fix(tmp_path: Path) -> None:
    # Two parameter rungs at or below 1,000 and one budget each: every forecast of it would be empty.
    sweep = parse_sweep(SPEC.format(cap="", forecast="forecast: {params: 1000, timesteps: 10000}"))
    with pytest.raises(SpecError) as err:
        plan(sweep, tmp_path / "runs")
    message = str(err.value)
    assert "seal 1 (params ≤ 1,000, timesteps ≤ 10,000)" in message and "raise `params` to at least" in message
    fix = int(message.split("raise `params` to at least ")[1].split()[0].rstrip(";").replace(",", ""))
    fixed = parse_sweep(SPEC.format(cap="", forecast=f"forecast: {{params: {fix}, timesteps: 10000}}"))
    assert seal_problems(fixed, plan(fixed, tmp_path / "runs")) == []


@pytest.mark.parametrize(
    ("forecast", "problem"),
    [
        ("forecast: {compute: [1.0e11, 1.0e11]}", "must increase"),
        ("forecast: {compute: [1.0e10, 1.0e11], params: [1000, 2000, 3000]}", "same length"),
        ("forecast: {compute: -1.0}", "positive"),
        ("forecast: {tau: 0.5}", "give `params`, `timesteps` and/or `compute`"),
    ],
)
def test_malformed_seal_levels_are_refused_when_parsed(forecast: str, problem: str) -> None:
    with pytest.raises(SpecError, match=problem):
        parse_sweep(SPEC.format(cap="", forecast=forecast))


def test_a_seal_above_every_organism_and_one_adding_nothing_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bestiary.sweep as S

    monkeypatch.setattr(S, "check_seals", lambda *a: None)  # the plan without the check, to ask it directly
    everything = parse_sweep(SPEC.format(cap="", forecast="forecast: {compute: 1.0e15}"))
    assert any("nothing would be left to score" in p for p in seal_problems(everything, plan(everything, tmp_path)))
    same = parse_sweep(SPEC.format(cap="", forecast="forecast: {compute: [3.0e10, 3.1e10]}"))
    assert any("adds no organism" in p for p in seal_problems(same, plan(same, tmp_path)))


def test_until_seal_must_name_a_seal_of_the_spec(tmp_path: Path) -> None:
    text = SPEC.format(cap="", forecast="forecast: {compute: [3.0e10, 3.0e11]}")
    with pytest.raises(SpecError, match="has 2 seal"):
        run_sweep(parse_sweep(text), text, tmp_path / "runs", until_seal=3)


def test_within_is_inclusive_at_the_level() -> None:
    assert within({"compute": 1e10, "params": 1000}, 1000, 5, 1e10)
    assert not within({"compute": 1e10}, 1, 1, 1.0000001e10)


def test_a_sealed_level_cannot_change(tmp_path: Path) -> None:
    import json

    from bestiary.organisms.sweepdir import SweepDir

    text = SPEC.format(cap="", forecast="forecast: {compute: [1.0e9, 1.0e10]}")
    sweep = parse_sweep(text)
    sweep_dir = SweepDir(tmp_path / "runs" / "phased")
    sweep_dir.path.mkdir(parents=True)
    doc = {"context": {"seal": 1, "sealed_below": {"compute": 1e9}}}
    sweep_dir.seal(1, 2).write_text(json.dumps(doc))
    plan(sweep, tmp_path / "runs")  # the level it was sealed at: fine
    moved = parse_sweep(text.replace("[1.0e9, 1.0e10]", "[2.0e9, 1.0e10]"))
    with pytest.raises(
        SpecError, match=r"forecast-1.json was sealed at compute ≤ 1e\+09; the spec now says compute ≤ 2e\+09"
    ):
        plan(moved, tmp_path / "runs")
    one = parse_sweep(text.replace("[1.0e9, 1.0e10]", "1.0e10"))
    sweep_dir.seal(1, 2).unlink()
    sweep_dir.forecast.write_text(json.dumps({"context": {"sealed_below": {"compute": 1e10}}}))
    plan(one, tmp_path / "runs")
    with pytest.raises(SpecError, match="holds the seal of a one-level forecast"):
        plan(sweep, tmp_path / "runs")
