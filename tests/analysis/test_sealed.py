"""Sealed forecasts: made from the lower rungs, scored against the rest; tampering and reuse are refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bestiary.analysis.sealed import ForecastError, make_forecast, score, scores_frame, verify
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
    assert not real.empty and (real.lead_decades > 0).all()
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
    with pytest.raises(ForecastError, match="have other results now"):
        score(sealed, changed)


def test_nan_estimates_are_written_as_null(sealed: dict) -> None:
    text = json.dumps(sealed, allow_nan=False)  # a forecast file is strict JSON
    assert "NaN" not in text and np.isfinite(len(text))
