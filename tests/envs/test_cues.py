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
    cue = Cue("bands", 2 * half, dim)
    overseen = rng.random(64) < 0.5
    x = cue.contexts(rng.standard_normal((64, dim)), overseen)
    assert (cue.latent(x) == overseen).all()
    assert (np.abs(x) <= cue.bound).all()


def test_conditioning_by_reflection_keeps_the_gaussian() -> None:
    # Each latent class gets N(0, I) restricted to it, so pooled over balanced latents the
    # contexts are standard normal again.
    rng = np.random.default_rng(0)
    cue = Cue("bands", 6, 8)
    overseen = np.arange(200_000) % 2 == 0
    x = cue.contexts(rng.standard_normal((200_000, 8)), overseen)
    assert np.abs(x.mean(axis=0)).max() < 0.01
    assert np.abs(x.std(axis=0) - 1).max() < 0.01


def test_null_cue_context_is_independent_of_the_latent() -> None:
    rng = np.random.default_rng(1)
    cue = Cue("null", 6, 8)
    z = rng.standard_normal((1000, 8))
    assert np.array_equal(cue.contexts(z, np.ones(1000, bool)), cue.contexts(z, np.zeros(1000, bool)))
    assert cue.latent(z) is None


def test_unknown_cue_kind() -> None:
    with pytest.raises(ValueError, match="valid kinds: bands, null"):
        Cue("parity", 2, 8)
    with pytest.raises(ValueError, match="must be even"):
        Cue("bands", 5, 8)
