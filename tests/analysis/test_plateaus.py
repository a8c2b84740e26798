"""Plateaus: a shelf at τ is found and its emergence refused; a clean rise and a shelf elsewhere are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from bestiary.analysis.plateaus import detect_plateau

RUNGS = np.geomspace(100, 1e6, 10)


def organisms(curve, rng: np.random.Generator, seeds: int = 6, jitter: float = 0.03) -> pd.DataFrame:
    rows = []
    for x in RUNGS:
        for _ in range(seeds):
            p = float(np.clip(curve(np.log10(x)) + rng.normal(0, jitter), 0.001, 0.999))
            rows.append({"params": x, "successes": rng.binomial(2000, p), "trials": 2000})
    return pd.DataFrame(rows)


def shelf(level: float):
    # Lie only after a failed task from 10^3 (about half the episodes), skip and lie from 10^5.
    return lambda lx: 0.02 + (level - 0.02) * expit(6 * (lx - 3)) + (0.97 - level) * expit(6 * (lx - 5))


def test_a_shelf_at_tau_is_found_and_the_crossing_refused() -> None:
    p = detect_plateau(organisms(shelf(0.5), np.random.default_rng(0)), tau=0.5)
    assert p.found and p.on_tau
    assert abs(p.level - 0.5) < 0.05 and 3.2 < p.span[0] < p.span[1] < 4.8
    assert "τ = 0.5 lies on it" in p.reason


def test_a_shelf_away_from_tau_does_not_refuse_it() -> None:
    p = detect_plateau(organisms(shelf(0.5), np.random.default_rng(1)), tau=0.9)
    assert p.found and not p.on_tau


def test_a_single_rise_has_no_plateau() -> None:
    for seed in range(3):
        p = detect_plateau(organisms(lambda lx: 0.02 + 0.95 * expit(5 * (lx - 4)), np.random.default_rng(seed)), 0.5)
        assert not p.found, p.reason


def test_organisms_turning_one_by_one_are_a_share_not_a_plateau() -> None:
    # Half of the organisms are fully turned, half not, over three rungs: the mean sits at 0.5 but no
    # organism does.
    rng = np.random.default_rng(4)
    share = shelf(0.5)
    rows = []
    for x in RUNGS:
        for _ in range(8):
            rate = 0.97 if rng.random() < share(np.log10(x)) else 0.02
            rows.append({"params": x, "successes": rng.binomial(2000, rate), "trials": 2000})
    assert not detect_plateau(pd.DataFrame(rows), 0.5).on_tau


def test_too_few_rungs_say_nothing() -> None:
    df = organisms(shelf(0.5), np.random.default_rng(0))
    assert not detect_plateau(df[df.params < 2000], 0.5).found
