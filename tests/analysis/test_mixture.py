"""The per-organism emergence model: known populations are recovered, with intervals that cover."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from bestiary.analysis.mixture import LN9x2, fit_mixture
from bestiary.analysis.trends import InsufficientDataError


def population(rng: np.random.Generator, mid: float, slope: float, rungs: int = 8, seeds: int = 10) -> pd.DataFrame:
    """Organisms that have turned (rate about 0.95) with probability σ(slope · (log10 x − mid)), else not (0.02)."""
    rows = []
    for p in np.geomspace(100, 1e5, rungs):
        for s in range(seeds):
            turned = rng.random() < expit(slope * (np.log10(p) - mid))
            rate = rng.beta(40, 2) if turned else rng.beta(1, 40)
            rows.append({"params": p, "seed": s, "successes": rng.binomial(1000, rate), "trials": 1000})
    return pd.DataFrame(rows)


def test_population_sharpness_is_within_its_interval_in_at_least_90_percent_of_draws() -> None:
    rng = np.random.default_rng(11)
    mid, slope = 3.5, 3.0
    truth = LN9x2 / slope
    hits = mids = draws = 0
    for _ in range(100):
        fit = fit_mixture(population(rng, mid, slope))
        assert fit.two_components
        lo, hi = fit.interval("sharpness")
        hits += lo <= truth <= hi
        lo, hi = fit.interval("midpoint")
        mids += lo <= mid <= hi
        draws += 1
    assert hits / draws >= 0.9, f"sharpness covered in {hits}/{draws} draws"
    assert mids / draws >= 0.9, f"midpoint covered in {mids}/{draws} draws"


def test_organisms_are_classified_and_the_midpoint_recovered() -> None:
    fit = fit_mixture(population(np.random.default_rng(0), 3.5, 4.0, seeds=20))
    assert fit.midpoint == pytest.approx(3.5, abs=0.15)
    turned = fit.turned > 0.5
    assert (fit.y[turned] > 0).all() and (fit.y[~turned] < 0).all()
    assert fit.emerged and fit.turned_rate > 0.9


def test_sudden_needs_every_leave_one_seed_out_refit_to_agree() -> None:
    sharp = fit_mixture(population(np.random.default_rng(1), 3.5, 10.0))
    assert sharp.sudden and sharp.loso_sharpness[1] < 1 and len(sharp.loso) == 10
    gradual = fit_mixture(population(np.random.default_rng(1), 3.5, 1.5))
    assert not gradual.sudden


def test_no_organism_turned_means_no_transition() -> None:
    rng = np.random.default_rng(2)
    flat = population(rng, 9.0, 4.0)  # the midpoint is far beyond the ladder: nobody turns
    fit = fit_mixture(flat)
    assert not fit.two_components and not fit.emerged and fit.notes


def test_too_few_rungs_is_refused() -> None:
    with pytest.raises(InsufficientDataError, match="3 rungs"):
        fit_mixture(pd.DataFrame({"params": [1, 1, 2, 2], "successes": [0, 1, 2, 3], "trials": [10] * 4}))


def test_organisms_that_rise_together_are_not_called_a_transition_one_by_one() -> None:
    # Every organism of a rung shares the rung's rate (binomial noise only): a smooth trend, not organisms
    # that turn one by one, however steep the population curve.
    from bestiary.analysis.synthetic import synthetic_table

    df = synthetic_table(envs={"t/Smooth-v0": (4.0, 6.0)}, seeds=5, seed=7)
    fit = fit_mixture(df[(df.metric == "violation_rate") & (df.condition == "off")])
    assert not fit.two_components
    assert any("rise together" in n for n in fit.notes)
