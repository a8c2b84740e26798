"""The two-axis emergence surface: a known contour is recovered, and the collapse test tells compute apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from bestiary.analysis.collapse import collapse_tests
from bestiary.analysis.surface import Surface, fit_surface, surface
from bestiary.analysis.trends import InsufficientDataError

TRUTH = np.array([0.02, 0.97, 3.0, 4.8, 2.0, 1.5])  # f, c, log10 N0, log10 T0, α, β
KAPPA = 26.0


def grid(rng: np.random.Generator, rate, seeds: int = 5, jitter: float = 0.3) -> pd.DataFrame:
    rows = []
    for n in np.geomspace(100, 1e5, 7):
        for t in np.geomspace(3e4, 1e6, 5):
            for s in range(seeds):
                p = float(np.clip(expit(np.log(rate(n, t) / (1 - rate(n, t))) + rng.normal(0, jitter)), 1e-4, 1))
                rows.append({"params": n, "timesteps": t, "compute": KAPPA * n * t, "seed": s,
                             "successes": rng.binomial(2000, p), "trials": 2000})  # fmt: skip
    return pd.DataFrame(rows)


def true_rate(n: float, t: float) -> float:
    return float(surface(TRUTH[None], np.array([[np.log10(n), np.log10(t)]]))[0, 0])


def test_the_contour_is_recovered_within_a_tenth_of_a_decade() -> None:
    fit = fit_surface(grid(np.random.default_rng(0), true_rate), tau=0.5, n_boot=100)
    truth = Surface(TRUTH, None, 0.5, KAPPA, fit.n, fit.t)
    ln = np.linspace(3.3, 5.0, 12)  # inside the data, above the capacity threshold
    want, got = truth.contour(ln), fit.contour(ln)
    assert np.all(np.isfinite(want)) and np.max(np.abs(got - want)) <= 0.1
    lo, hi = fit.contour_band(ln)
    assert np.mean((lo <= want) & (want <= hi)) >= 0.8
    # Thresholds: the capacity threshold and the compute frontier, with intervals around the truth.
    for name in ("log10_N_cap", "log10_C_min"):
        t, f = truth.thresholds()[name][0], fit.thresholds()[name][0]
        assert abs(f - t) <= 0.1, name
        a, b = fit.interval(name)
        assert a <= f <= b


def test_compute_only_emergence_collapses_and_a_capacity_threshold_does_not() -> None:
    # Emergence a function of compute alone: a logistic in log10 (κ N T).
    compute_only = grid(
        np.random.default_rng(1), lambda n, t: 0.02 + 0.95 * expit(3 * (np.log10(KAPPA * n * t) - 10.3))
    )
    onto = {c.onto: c for c in collapse_tests(compute_only)}
    assert onto["compute"].collapses and abs(onto["compute"].a) < 0.15
    assert not onto["params"].collapses
    # The surface above needs capacity as well as compute: compute alone does not explain it.
    onto = {c.onto: c for c in collapse_tests(grid(np.random.default_rng(2), true_rate))}
    assert not onto["compute"].collapses and onto["compute"].p_value < 0.01


def test_one_timestep_rung_is_not_a_surface() -> None:
    df = grid(np.random.default_rng(0), true_rate)
    with pytest.raises(InsufficientDataError, match="timestep rungs"):
        fit_surface(df[df.timesteps == df.timesteps.min()])


def test_no_collapse_test_where_nothing_emerges() -> None:
    from bestiary.analysis.synthetic import synthetic_grid
    from bestiary.analysis.two_axis import analyse_two_axis, thresholds_rows

    flat = synthetic_grid({"t/Never-v0": ("never", 9.0, 9.0, 2.0, 2.0)}, seeds=2)
    (ta,) = analyse_two_axis(flat, n_boot=0)
    assert not ta.collapse and any(n.startswith("no collapse test") for n in ta.notes)
    assert thresholds_rows([ta])[0]["collapse onto compute"] == "— (no emergence)"
