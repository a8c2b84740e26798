"""Scoring counts every prediction beyond what the forecast saw; open interval ends stay open.

Each test here failed on the analysis before its fix: open ends were written as null and never
covered, a behaviour already above τ everywhere was "not reached", false alarms were scored "no
truth", predictions at budgets the forecast never saw were hidden as nowcasts, and a crossing
extrapolated beyond the top rung served as the truth.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from bestiary.analysis.report_sections import forecast_summary
from bestiary.analysis.scoring import score, scores_frame
from bestiary.analysis.sealed import _self_hash, make_forecast, number
from bestiary.analysis.synthetic import synthetic_table
from bestiary.analysis.trends import emergence, fit_trend


def _rates(params: list[float], rates: list[float], seeds: int = 4, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        {"params": p, "successes": int(rng.binomial(400, r)), "trials": 400}
        for p, r in zip(params, rates, strict=True)
        for _ in range(seeds)
    ]
    return pd.DataFrame(rows)


def test_a_behaviour_above_tau_at_every_rung_emerged_below_the_data() -> None:
    rows = _rates([1e2, 1e3, 1e4, 1e5], [0.97, 0.97, 0.97, 0.97])
    e = emergence(fit_trend(rows, model="logistic", n_boot=60), 0.5)
    assert e.log10_scale == -math.inf and e.interval == (-math.inf, -math.inf)
    assert "below the data" in e.note


def test_bootstrap_curves_that_never_cross_make_the_upper_end_open() -> None:
    rows = _rates([1e2, 1e3, 1e4, 1e5], [0.02, 0.03, 0.2, 0.42], seed=1)
    e = emergence(fit_trend(rows, model="logistic", n_boot=100), 0.5)
    assert e.interval[1] == math.inf


def test_open_interval_ends_survive_the_file_and_cover_the_truth() -> None:
    table = synthetic_table({"synthetic/Late-v0": (4.6, 3.0)}, seeds=4, seed=2)
    doc = json.loads(json.dumps(make_forecast(table[table.params <= 3e4], n_boot=60), allow_nan=False))
    behaviour = next(p for p in doc["predictions"] if p["method"] == "behaviour")
    assert behaviour["interval"][1] == "inf" and number(behaviour["interval"][1]) == math.inf
    # Read as +∞, an open upper end covers a truth above its lower end (read as null, it never did).
    truth = float(scores_frame(score(doc, table)).truth_log10.iloc[0])
    doc = _forged(doc, log10_estimate=truth + 0.2, interval=[truth - 0.1, "inf"], note="")
    s = scores_frame(score(doc, table))
    assert s[s.kind == "forecast"].covered.all()


def _forged(doc: dict, **changes: object) -> dict:
    """A forecast whose predictions are changed and re-hashed, as a test fixture (never a real seal)."""
    out = json.loads(json.dumps(doc))
    for p in out["predictions"]:
        p.update(changes)
    out["sha256"] = _self_hash(out)
    return out


def test_a_forecast_of_emergence_where_none_came_is_a_false_alarm() -> None:
    # Nothing emerges up to 300,000 parameters; a forecast said 1,200.
    table = synthetic_table({"synthetic/Null-v0": (9.0, 6.0)}, seeds=4, seed=3)
    doc = make_forecast(table[table.params <= 3000], n_boot=0)
    doc = _forged(doc, log10_estimate=math.log10(1200), interval=[3.0, 3.2], note="")
    s = scores_frame(score(doc, table))
    behaviour = s[(s.method == "behaviour") & (s.kind == "forecast")]
    assert not behaviour.empty and (behaviour.outcome == "false alarm").all()
    top = math.log10(table.params.max())
    assert np.allclose(behaviour.error_decades, top - math.log10(1200)) and behaviour.censored.all()
    summary = {r["method"]: r for r in forecast_summary(s)}
    assert int(summary["behaviour"]["false alarms"]) == len(behaviour)
    assert not behaviour.covered.any()


def test_a_forecast_of_not_reached_where_it_came_is_a_missed_emergence() -> None:
    table = synthetic_table({"synthetic/Sudden-v0": (3.8, 8.0)}, seeds=4, seed=4)
    doc = make_forecast(table[table.params <= 1000], n_boot=0)
    doc = _forged(doc, log10_estimate=None, interval=[None, None], note="the fitted curve does not cross τ = 0.5")
    s = scores_frame(score(doc, table))
    behaviour = s[(s.method == "behaviour") & (s.kind == "forecast")]
    assert not behaviour.empty and (behaviour.outcome == "missed emergence").all()
    assert (behaviour.error_decades > 0).all()


def test_an_abstention_is_not_agreement() -> None:
    table = synthetic_table({"synthetic/Sudden-v0": (3.8, 8.0)}, seeds=4, seed=4)
    doc = make_forecast(table[table.params <= 1000], n_boot=0)
    doc = _forged(doc, log10_estimate=None, interval=[None, None], note="a logistic trend needs at least 3 rungs")
    s = scores_frame(score(doc, table))
    assert (s[s.kind == "forecast"].outcome == "abstained").all()


def test_predictions_at_budgets_the_forecast_never_saw_count() -> None:
    from bestiary.analysis.synthetic import synthetic_grid

    grid = synthetic_grid(seed=5, seeds=3)
    budgets = sorted(grid.timesteps.unique())
    seen = grid[grid.timesteps < budgets[-1]]
    doc = make_forecast(seen, n_boot=0, budgets=[budgets[-1]])
    s = scores_frame(score(doc, grid))
    unseen = s[(s.axis == "params") & (s["at"] == f"timesteps {budgets[-1]:,.0f}")]
    assert not unseen.empty and (unseen.kind == "forecast").all()
    assert set(unseen.outcome) - {"abstained"}  # scored, not hidden


def test_a_truth_must_be_bracketed_by_the_rungs() -> None:
    # The top rung is at 0.45: the logistic would cross τ just beyond it; that is no truth.
    params = [1e2, 1e3, 1e4, 1e5]
    rows = _rates(params, [0.02, 0.05, 0.2, 0.45], seed=6).assign(
        trial_id=[f"t{i}" for i in range(16)], env_id="e", env_kwargs="{}", metric="violation_rate",
        condition="off", status="done", timesteps=1e5, value=np.nan,
    )  # fmt: skip
    from bestiary.analysis.scoring import _truth

    truth = _truth(rows, "params", 0.5, 0, testable=True)
    assert math.isnan(truth.value) and truth.largest == 5.0


def test_compute_leads_are_measured_from_the_largest_compute_the_forecast_saw() -> None:
    from bestiary.analysis.synthetic import synthetic_grid

    grid = synthetic_grid(seed=7, seeds=2)
    lower = grid[grid.params <= 2000]
    doc = make_forecast(lower, n_boot=0)
    compute_preds = [p for p in doc["predictions"] if p["axis"] == "compute"]
    assert compute_preds
    for p in compute_preds:
        seen = lower[(lower.env_id == p["env_id"]) & (lower.metric == "violation_rate") & (lower.condition == "off")]
        assert p["largest_used_log10"] == math.log10(seen.compute.max())


def _shelf_table(seed: int = 8) -> pd.DataFrame:
    """A rate that rises in two steps with a shelf at τ (organisms that solved half the cue)."""
    rng = np.random.default_rng(seed)
    params = np.geomspace(100, 1e5, 7)
    level = [0.02, 0.03, 0.5, 0.5, 0.5, 0.93, 0.95]
    rows = []
    for p, r in zip(params, level, strict=True):
        for s in range(5):
            k = int(rng.binomial(1000, float(np.clip(r + rng.normal(0, 0.02), 0.01, 0.99))))
            base = dict(trial_id=f"t-{p:.0f}-{s}", env_id="t/Shelf-v0", env_kwargs="{}", failure_mode="x", params=p,
                        timesteps=1e5, seed=s, status="done", mechanism="m", compute=6 * p * 1e5)  # fmt: skip
            rows.append({**base, "condition": "off", "metric": "violation_rate", "value": k / 1000,
                         "successes": k, "trials": 1000})  # fmt: skip
    return pd.DataFrame(rows)


def test_a_truth_on_a_plateau_is_not_scored() -> None:
    from bestiary.analysis.plateaus import detect_plateau

    table = _shelf_table()
    assert detect_plateau(table, 0.5).on_tau
    doc = make_forecast(table[table.params <= 1000], n_boot=0)
    s = scores_frame(score(doc, table))
    params_axis = s[s.axis == "params"]
    assert not params_axis.empty and (params_axis.outcome == "no truth: τ on a plateau").all()
    assert (params_axis.kind == "untested").all()


def test_copies_of_used_organisms_under_new_ids_and_tables_without_the_used_ones_are_refused() -> None:
    from bestiary.analysis.sealed import ForecastError

    table = synthetic_table({"synthetic/Sudden-v0": (3.8, 8.0)}, seeds=4, seed=9)
    lower = table[table.params <= 1000]
    doc = make_forecast(lower, n_boot=0)
    copies = lower.assign(trial_id=lower.trial_id + "-copy")
    with pytest.raises(ForecastError, match="copies under new trial ids"):
        score(doc, pd.concat([lower, copies]))
    with pytest.raises(ForecastError, match=r"none of the .* organisms the forecast used"):
        score(doc, table[table.params > 1000])


def test_a_forecast_from_organisms_above_its_own_bounds_says_so() -> None:
    table = synthetic_table({"synthetic/Sudden-v0": (3.8, 8.0)}, seeds=2, seed=10)
    doc = make_forecast(table, n_boot=0, context={"sealed_below": {"params": 1000}})
    assert "above its own stated bounds" in doc["hindsight"]
    assert "hindsight" not in make_forecast(
        table[table.params <= 1000], n_boot=0, context={"sealed_below": {"params": 1000}}
    )


def test_organisms_are_identified_by_content_where_the_table_records_it() -> None:
    from bestiary.analysis.sealed import ForecastError

    table = synthetic_table({"synthetic/Sudden-v0": (3.8, 8.0)}, seeds=3, seed=11)
    table = table.assign(organism_sha256="w-" + table.trial_id)  # stands for sha256(weights hash | trial id)
    lower = table[table.params <= 1000]
    doc = make_forecast(lower, n_boot=0)
    assert doc["hashed"][-1] == "organism_sha256"
    assert not scores_frame(score(doc, table)).empty
    # Other weights under the same id and the same results: not the organism the forecast used.
    swapped = table.copy()
    first = lower.trial_id.iloc[0]
    swapped.loc[swapped.trial_id == first, "organism_sha256"] = "other-weights"
    with pytest.raises(ForecastError, match="have other results"):
        score(doc, swapped)
    with pytest.raises(ForecastError, match="lacks column"):
        score(doc, table.drop(columns="organism_sha256"))
