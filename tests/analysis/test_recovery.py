"""Known parameters are recovered, and bootstrap intervals cover the truth at about their nominal rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from bestiary.analysis import emergence, fit_trend
from bestiary.analysis.models import MODELS

RUNGS = np.geomspace(300, 3e5, 7)


def logistic_draw(
    rng: np.random.Generator, mid: float = 4.0, slope: float = 5.0, seeds: int = 5, jitter: float = 0.1
) -> pd.DataFrame:
    rows = []
    for x in RUNGS:
        for _ in range(seeds):
            p = 0.02 + 0.93 * expit(slope * (np.log10(x) - mid - rng.normal(0, jitter)))
            rows.append({"params": x, "successes": rng.binomial(400, p), "trials": 400})
    return pd.DataFrame(rows)


def test_logistic_recovery_and_interval_coverage() -> None:
    rng = np.random.default_rng(0)
    hits, mids = 0, []
    reps = 24
    for r in range(reps):
        fit = fit_trend(logistic_draw(rng), model="logistic", n_boot=80, seed=r)
        lo, hi = fit.intervals()["midpoint"]
        hits += lo <= 4.0 <= hi
        mids.append(fit.params["midpoint"])
    assert abs(np.mean(mids) - 4.0) < 0.05
    assert 0.7 <= hits / reps <= 1.0, f"90% intervals covered the true midpoint in {hits}/{reps} draws"


def test_emergence_and_sharpness_of_a_known_logistic() -> None:
    fit = fit_trend(logistic_draw(np.random.default_rng(1), slope=6.0, jitter=0.02), model="logistic", n_boot=50)
    e = emergence(fit, tau=0.5)
    # 0.02 + 0.93 σ(6 (l − 4)) = 0.5  ⇒  l = 4 + logit(0.48/0.93)/6
    expected = 4 + np.log((0.48 / 0.93) / (1 - 0.48 / 0.93)) / 6
    assert e.log10_scale == pytest.approx(expected, abs=0.05)
    assert e.sharpness_decades == pytest.approx(2 * np.log(9) / 6, rel=0.15)
    assert e.sudden and not e.extrapolated
    assert e.interval[0] <= e.log10_scale <= e.interval[1]


def continuous_draw(
    rng: np.random.Generator, model: str, theta: list[float], sigma: float, seeds: int = 5
) -> pd.DataFrame:
    x = np.repeat(RUNGS, seeds)
    y = MODELS[model].curve(np.array(theta), x) + rng.normal(0, sigma, len(x))
    return pd.DataFrame({"params": x, "value": y})


def test_power_law_recovery_and_coverage() -> None:
    rng = np.random.default_rng(2)
    hits, reps = 0, 20
    for r in range(reps):
        fit = fit_trend(
            continuous_draw(rng, "power_law", [2.0, 0.3], 1.0), y="value", model="power_law", n_boot=80, seed=r
        )
        lo, hi = fit.intervals()["b"]
        hits += lo <= 0.3 <= hi
        assert fit.params["b"] == pytest.approx(0.3, abs=0.05)
    assert 0.7 <= hits / reps <= 1.0


def test_saturating_power_law_recovery() -> None:
    fit = fit_trend(
        continuous_draw(np.random.default_rng(3), "saturating_power_law", [5.0, 40.0, 0.5], 0.1),
        y="value",
        model="saturating_power_law",
        n_boot=40,
    )
    assert fit.params["c"] == pytest.approx(5.0, abs=0.2)
    assert fit.params["b"] == pytest.approx(0.5, abs=0.1)


def test_broken_power_law_is_recovered_and_chosen_by_aic() -> None:
    truth = [0.0, 50.0, 0.0, 0.8, 3.5, 0.1]  # flat until a break at 10^3.5, then falling as x^-0.8
    rng = np.random.default_rng(4)
    data = continuous_draw(rng, "broken_power_law", truth, 0.3)
    fit = fit_trend(data, y="value", model="auto", n_boot=30)
    assert fit.model.startswith("broken_power_law"), fit.model
    grid = np.geomspace(300, 3e5, 50)
    true = MODELS["broken_power_law"].curve(np.array(truth), grid)
    assert np.max(np.abs(fit.predict(grid) - true)) < 1.5  # within a few noise σ everywhere
    assert "lowest AIC" in fit.selection
