"""The convergence diagnostic: a rising end of training is flagged, a plateau and noise are not."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bestiary.analysis.convergence import late_gain


def test_a_saturated_curve_has_converged_and_a_rising_one_has_not() -> None:
    t = np.linspace(2048, 150_000, 73)
    rng = np.random.default_rng(0)
    assert late_gain(t, 0.9 - 0.4 * np.exp(-t / 2e4) + 0.01 * rng.standard_normal(len(t))).converged
    rising = late_gain(t, 0.5 + 0.4 * t / t.max() + 0.01 * rng.standard_normal(len(t)))
    assert not rising.converged and rising.gain > 0.05


def test_a_curve_that_jumps_at_the_very_end_has_not_converged() -> None:
    t = np.linspace(2048, 150_000, 73)
    r = np.where(t > 0.9 * t.max(), 0.9, 0.5) + 0.005 * np.random.default_rng(1).standard_normal(len(t))
    assert not late_gain(t, r).converged


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.001, 0.5))
def test_pure_noise_is_rarely_flagged(seed: int, noise: float) -> None:
    t = np.linspace(2048, 150_000, 73)
    r = 0.7 + noise * np.random.default_rng(seed).standard_normal(len(t))
    g = late_gain(t, r)
    # A flat curve is flagged only when its late noise looks like a significant and material rise.
    assert g.converged or g.t_stat > 2


def test_too_short_a_curve_says_nothing() -> None:
    g = late_gain(np.array([1.0, 2.0]), np.array([0.1, 0.2]))
    assert g.converged and np.isnan(g.gain)
