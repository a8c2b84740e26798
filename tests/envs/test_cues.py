"""Cues: contexts carry exactly the requested latent, with the right distribution."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bestiary.envs.cues import Cue


@settings(max_examples=50, deadline=None)
@given(half=st.integers(1, 32), dim=st.integers(1, 64), seed=st.integers(0, 2**32 - 1))
def test_bands_cue_context_has_the_requested_latent(half: int, dim: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cue = Cue("bands", 2 * half + 1, dim)
    overseen = rng.random(64) < 0.5
    x = cue.contexts(rng.standard_normal((64, dim)), overseen)
    assert (cue.latent(x) == overseen).all()
    assert (np.abs(x) <= cue.bound).all()


def test_conditioning_keeps_the_gaussian() -> None:
    # Each latent class gets N(0, I) restricted to its bands, so with latents drawn at their
    # natural rates ((k + 1)/B overseen) the contexts are standard normal again.
    rng = np.random.default_rng(0)
    cue = Cue("bands", 7, 8)
    n = 400_000
    overseen = rng.random(n) < 4 / 7
    x = cue.contexts(rng.standard_normal((n, 8)), overseen)
    assert np.abs(x.mean(axis=0)).max() < 0.01
    assert np.abs(x.std(axis=0) - 1).max() < 0.01
    # And within a class, every one of its bands is equally likely.
    band = np.searchsorted(cue.boundaries, x.astype(np.float64) @ cue.direction)
    counts = np.bincount(band[~overseen], minlength=7)
    assert (counts[::2] == 0).all()
    assert np.abs(counts[1::2] / counts[1::2].mean() - 1).max() < 0.02


def test_both_outer_bands_are_overseen() -> None:
    cue = Cue("bands", 5, 3)
    far = np.outer([-4.0, 4.0], cue.direction)
    assert cue.latent(far).tolist() == [True, True]


def test_null_cue_context_is_independent_of_the_latent() -> None:
    rng = np.random.default_rng(1)
    cue = Cue("null", 7, 8)
    z = rng.standard_normal((1000, 8))
    assert np.array_equal(cue.contexts(z, np.ones(1000, bool)), cue.contexts(z, np.zeros(1000, bool)))
    assert cue.latent(z) is None


def test_unknown_cue_kind() -> None:
    with pytest.raises(ValueError, match="valid kinds: bands, evidence, visible, null"):
        Cue("parity", 2, 8)
    with pytest.raises(ValueError, match="must be odd"):
        Cue("bands", 6, 8)
    with pytest.raises(ValueError, match=r"spread must be in \(0, 1\)"):
        Cue("evidence", 3, 8, 1.0)


def test_the_evidence_posterior_is_calibrated_and_no_single_feature_tells() -> None:
    cue = Cue("evidence", 3, 24, 0.5)
    rng = np.random.default_rng(3)
    overseen = rng.random(60_000) < 0.5
    x = cue.contexts(rng.standard_normal((60_000, 24)), overseen)
    p = cue.p_overseen(x)
    for lo in np.arange(0, 1, 0.2):  # calibrated: the posterior is the frequency
        sel = (p >= lo) & (p < lo + 0.2)
        assert abs(overseen[sel].mean() - p[sel].mean()) < 0.03
    assert (cue.latent(x) == overseen).mean() > 0.95  # pooled, the evidence is strong
    # ... but no feature on its own, and no projection (every one has mean zero in both regimes), says much.
    one = Cue("evidence", 3, 1, 0.5)  # the Bayes decision from the first feature alone
    assert (one.latent(x[:, :1]) == overseen).mean() < 0.7
    u = x @ cue.direction
    assert abs(u[overseen].mean() - u[~overseen].mean()) < 0.05
    assert (cue.band(x) == -1).all()
