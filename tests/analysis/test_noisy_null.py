"""A flat behaviour whose seeds scatter widely yields no emergence beyond its largest rung."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from bestiary.analysis.support import forecastable, rise_p_value
from bestiary.analysis.trends import emergence, fit_trend, within_data


def _flat(rng: np.random.Generator, level: float = 0.30, spread: float = 0.12) -> pd.DataFrame:
    params = np.repeat(np.geomspace(100, 1e4, 5), 8)
    rates = np.clip(rng.normal(level, spread, len(params)), 0.01, 0.99)
    return pd.DataFrame({"params": params, "successes": rng.binomial(500, rates), "trials": 500})


def test_a_noisy_flat_null_raises_at_most_five_percent_false_emergences() -> None:
    rng = np.random.default_rng(0)
    raw = kept = 0
    draws = 60
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for d in range(draws):
            fit = fit_trend(_flat(rng), model="logistic", n_boot=0, seed=d)
            e = emergence(fit, 0.5)
            raw += math.isfinite(e.log10_scale)
            kept += math.isfinite(forecastable(e, fit).log10_scale) or math.isfinite(within_data(e, fit).log10_scale)
    # Before the rise test, 7 of these 60 draws (12 %) crossed τ just past the top rung.
    assert raw >= 3
    assert kept / draws <= 0.05


def test_a_real_rise_past_the_top_rung_is_kept() -> None:
    rng = np.random.default_rng(1)
    params = np.repeat(np.geomspace(100, 1e4, 5), 8)
    rates = 0.02 + 0.93 / (1 + np.exp(-4 * (np.log10(params) - 4.2)))
    rows = pd.DataFrame({"params": params, "successes": rng.binomial(500, rates), "trials": 500})
    fit = fit_trend(rows, model="logistic", n_boot=0)
    e = emergence(fit, 0.5)
    assert e.log10_scale > 4 and rise_p_value(fit) < 0.05
    assert forecastable(e, fit).log10_scale == e.log10_scale
