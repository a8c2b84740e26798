"""Sealed forecasts: made from the lower rungs, scored against the rest; tampering and reuse are refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bestiary.analysis.scoring import score, scores_frame
from bestiary.analysis.sealed import ForecastError, make_forecast, verify
from bestiary.analysis.synthetic import synthetic_grid


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    return synthetic_grid(seed=3)


@pytest.fixture(scope="module")
def sealed(grid: pd.DataFrame) -> dict:
    lower = grid[grid.params <= 2000]
    # Written to disk and read back, as a committed forecast would be.
    return json.loads(json.dumps(make_forecast(lower, n_boot=40)))


def test_round_trip_scores_forecasts_of_every_method(grid: pd.DataFrame, sealed: dict) -> None:
    assert verify(sealed) is sealed and len(sealed["organisms"]) == grid[grid.params <= 2000].trial_id.nunique()
    table = scores_frame(score(sealed, grid))
    assert {"surface", "behaviour", "precursor", "logodds_gap", "width_only"} <= set(table.method)
    real = table[table.kind == "forecast"]
    # Every slice that gained organisms the forecast did not use counts (all along parameters); along
    # compute, the parameter counts the forecast saw whole gained none and stay untested.
    assert not real.empty and (table[table.axis == "params"].kind == "forecast").all()
    untested = table[table.kind == "untested"]
    assert (untested.axis == "compute").all() and all(
        float(a.split()[1].replace(",", "")) <= 2000 for a in untested["at"]
    )
    assert (real.lead_decades.dropna() > 0).any()
    # The synthetic log-odds gap is linear in log scale and reaches the same level at emergence in every
    # mechanism, so its forecasts from three rungs land near the truth; the width-only baseline, blind to
    # the budget, misses by more.
    gap = real[real.method == "logodds_gap"]
    assert len(gap) >= 3 and gap.error_decades.median() < 0.3
    assert real[real.method == "width_only"].error_decades.median() > gap.error_decades.median()
    # The precursor's level comes from the other mechanisms only.
    for p in sealed["predictions"]:
        if p["method"] == "precursor" and p["critical_sources"]:
            assert all(p["mechanism"] not in s for s in p["critical_sources"])


def test_scoring_against_only_the_organisms_it_used_is_refused(grid: pd.DataFrame, sealed: dict) -> None:
    with pytest.raises(ForecastError, match="every finished organism here was used"):
        score(sealed, grid[grid.params <= 2000])


def test_a_tampered_forecast_is_refused(grid: pd.DataFrame, sealed: dict) -> None:
    forged = json.loads(json.dumps(sealed))
    forged["predictions"][0]["log10_estimate"] = 3.0
    with pytest.raises(ForecastError, match="changed after it was written"):
        score(forged, grid)
    with pytest.raises(ForecastError, match="not a Bestiary forecast"):
        verify({"predictions": []})


def test_changed_results_of_a_used_organism_are_refused(grid: pd.DataFrame, sealed: dict) -> None:
    changed = grid.copy()
    first = next(iter(sealed["organisms"]))
    i = changed.index[(changed.trial_id == first) & (changed.metric == "violation_rate")][0]
    changed.loc[i, "successes"] = int(changed.loc[i, "successes"]) + 1
    with pytest.raises(ForecastError, match="have other results"):
        score(sealed, changed)


def test_nan_estimates_are_written_as_null(sealed: dict) -> None:
    text = json.dumps(sealed, allow_nan=False)  # a forecast file is strict JSON
    assert "NaN" not in text and np.isfinite(len(text))


def test_organism_hashes_do_not_depend_on_how_the_table_was_read(grid: pd.DataFrame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The sweep seals from rows built in memory (counts as Python ints or floats); the report scores a table
    # collected later (nullable Int64 counts) or read back from parquet or CSV: the same organisms, the same hashes.
    from bestiary.analysis.sealed import organism_hashes

    table = grid[grid.trial_id.isin(grid.trial_id.unique()[:20])]
    reference = organism_hashes(table)
    as_floats = table.assign(successes=table.successes.astype(float), trials=table.trials.astype(float))
    as_objects = table.astype({"successes": object, "trials": object, "condition": object})
    as_nullable = table.assign(successes=table.successes.astype("Int64"), trials=table.trials.astype("Int64"))
    table.to_csv(tmp_path / "t.csv", index=False)
    for other in (as_floats, as_objects, as_nullable, pd.read_csv(tmp_path / "t.csv")):
        assert organism_hashes(other) == reference
    changed = table.copy()
    changed.loc[changed.index[0], "value"] += 1e-9
    assert organism_hashes(changed) != reference


def test_the_behaviour_forecast_is_made_on_the_declared_kind_and_scored_on_it() -> None:
    # An environment's plateau-free kind is its behaviour forecast (the pooled rate is reported beside it), and a
    # forecast of the kind is scored against the kind's own emergence, not the pooled rate's.
    import json as _json

    from bestiary.analysis.scoring import score, scores_frame
    from bestiary.analysis.sealed import make_forecast
    from bestiary.analysis.synthetic import synthetic_grid

    df = synthetic_grid(params=(100, 1e5, 6), timesteps=(3e4, 3e5, 2), seeds=3)
    kind = df[(df.metric == "violation_rate") & (df.condition == "off")].copy()
    kind["metric"] = "worst_band_violation"
    kind["successes"] = (kind.successes * 0.2).round().astype("Int64")  # the kind rises later than the pooled rate
    kind["value"] = kind.successes / kind.trials
    df = pd.concat([df, kind], ignore_index=True).assign(declared_kinds=_json.dumps(["worst_band_violation"]))
    early = df[df.params <= 3000]
    doc = make_forecast(early, n_boot=0)
    methods = {(p["method"], p.get("metric")) for p in doc["predictions"]}
    assert ("behaviour", "worst_band_violation") in methods and ("behaviour_pooled", "violation_rate") in methods
    scored = scores_frame(score(doc, df))
    assert {"behaviour", "behaviour_pooled"} <= set(scored.method)
    both = scored[scored.method.isin(["behaviour", "behaviour_pooled"]) & (scored.kind == "forecast")]
    truths = both.groupby(["at", "method"]).truth_log10.first().unstack()
    differs = (truths["behaviour"].fillna(99) != truths["behaviour_pooled"].fillna(99)).any()
    assert differs  # each is scored against its own metric's emergence


def test_along_compute_too_the_behaviour_forecast_is_on_the_declared_kind() -> None:
    # The compute axis once forecast the pooled rate under the name "behaviour" while the parameter axis forecast
    # the plateau-free kind: an organism reading half the cue sits near 0.4 on the pooled rate for ever.
    import json as _json

    from bestiary.analysis.sealed import make_forecast
    from bestiary.analysis.synthetic import synthetic_grid

    df = synthetic_grid(params=(100, 1e4, 4), timesteps=(3e4, 3e5, 4), seeds=2)
    kind = df[(df.metric == "violation_rate") & (df.condition == "off")].assign(metric="worst_band_violation")
    df = pd.concat([df, kind], ignore_index=True).assign(declared_kinds=_json.dumps(["worst_band_violation"]))
    along = [p for p in make_forecast(df, n_boot=0)["predictions"] if p["axis"] == "compute"]
    assert along, "the grid has three budgets or more at every parameter rung: compute forecasts are made"
    behaviour = {p.get("metric") for p in along if p["method"] == "behaviour"}
    pooled = {p.get("metric") for p in along if p["method"] == "behaviour_pooled"}
    assert behaviour == {"worst_band_violation"} and pooled <= {None, "violation_rate"} and pooled


def test_a_forecast_does_not_depend_on_the_order_of_the_table_s_rows(grid: pd.DataFrame) -> None:
    # A seal exported as a table and remade from it must be the seal the sweep made from its run directories.
    from bestiary.analysis.sealed import make_forecast

    early = grid[grid.params <= 3000]
    shuffled = early.sample(frac=1.0, random_state=7)
    a, b = make_forecast(early, n_boot=30), make_forecast(shuffled, n_boot=30)
    assert a["predictions"] == b["predictions"] and a["organisms"] == b["organisms"]
