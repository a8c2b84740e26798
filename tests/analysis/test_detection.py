"""Detectability: AUROC against known answers, run-level intervals, bins of scale, families with their controls."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bestiary.analysis.detection import auroc, detectability, detectability_figure, detectability_rows


def test_auroc_known_answers() -> None:
    labels = np.array([True, True, False, False])
    assert auroc(np.array([4.0, 3.0, 2.0, 1.0]), labels) == 1.0
    assert auroc(np.array([1.0, 2.0, 3.0, 4.0]), labels) == 0.0
    assert auroc(np.array([1.0, 1.0, 1.0, 1.0]), labels) == 0.5  # ties count half
    assert math.isnan(auroc(np.array([1.0, 2.0]), np.array([True, True])))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.booleans()), min_size=2, max_size=30))
def test_auroc_is_the_pairwise_probability(pairs: list[tuple[float, bool]]) -> None:
    s, y = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        return
    brute = np.mean([(a > b) + 0.5 * (a == b) for a in pos for b in neg])
    assert auroc(s, y) == pytest.approx(brute)


def table(n_seeds: int = 8, with_control: bool = True, seed: int = 0) -> pd.DataFrame:
    """Organisms of 3 widths × 2 budgets × seeds; the smallest never turn, the largest all do; a null-cue control."""
    rng = np.random.default_rng(seed)
    rows = []
    for env, control in [("e/A-v0", False), ("e/ANullCue-v0", True)][: 1 + with_control]:
        for params in (100, 1000, 10000):
            for steps in (1000, 4000):
                for s in range(n_seeds):
                    p_turn = 0.0 if control else {100: 0.0, 1000: 0.5, 10000: 1.0}[params]
                    off = float(rng.random() < p_turn) * 0.9
                    for det, score in [("good", off + rng.normal(0, 0.05)), ("null", rng.random())]:
                        rows.append({"trial_id": f"{env}{params}{steps}{s}", "env_id": env, "family": "A",
                                     "params": params, "width": params // 10, "timesteps": steps,
                                     "compute": 6 * params * steps, "seed": s, "oversight": "train", "detector": det,
                                     "control": det == "null", "score": score, "off": off,
                                     "turned": off >= 0.5})  # fmt: skip
    return pd.DataFrame(rows)


def test_bins_with_one_kind_say_so_and_a_family_with_its_control_has_negatives_everywhere() -> None:
    t = table()
    apart = detectability(t[t.detector == "good"], "params", draws=100)
    own = apart[apart.environment == "e/A-v0"].set_index("bin")
    assert math.isnan(own.loc[2.0, "auroc"]) and math.isnan(own.loc[4.0, "auroc"])  # none turned / all turned
    assert own.loc[3.0, "auroc"] == 1.0
    rows = detectability_rows(apart)
    assert any(r["AUROC"] == "one kind only" for r in rows)
    family = detectability(t[t.detector == "good"], "params", draws=100, by="family").set_index("bin")
    assert family.loc[4.0, "auroc"] == 1.0 and family.loc[4.0, "organisms"] == 32  # the control's 16 negatives
    assert set(family.environment) == {"A-v0 + ANullCue-v0"}
    assert detectability_figure(family.reset_index(), "params").startswith(b"\x89PNG")


def test_the_null_detector_interval_contains_half_and_resamples_runs() -> None:
    t = table(n_seeds=10, seed=3)
    null = detectability(t[t.detector == "null"], "all", draws=400, by="family").iloc[0]
    assert null.lo <= 0.5 <= null.hi
    # Two budgets of one run are one network: the interval resamples runs, so duplicating every organism under a
    # second budget of the same run leaves it as wide as before.
    good = t[(t.detector == "null") & (t.env_id == "e/A-v0") & (t.timesteps == 1000)]
    twice = pd.concat([good, good.assign(timesteps=2000, trial_id=good.trial_id + "b")])
    one, two = (detectability(x, "all", draws=400).iloc[0] for x in (good, twice))
    assert (two.hi - two.lo) == pytest.approx(one.hi - one.lo, abs=0.08)


def test_a_table_without_the_audit_columns_is_refused() -> None:
    with pytest.raises(ValueError, match="lacks column"):
        detectability(pd.DataFrame({"score": [1.0]}))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.booleans(), st.integers(0, 3)), min_size=2, max_size=25))
def test_weighted_auroc_is_the_auroc_of_the_repeated_organisms(rows: list[tuple[int, bool, int]]) -> None:
    from bestiary.analysis.detection import weighted_auroc

    s = np.array([float(r[0]) for r in rows])  # few distinct scores: ties
    y = np.array([r[1] for r in rows])
    w = np.array([float(r[2]) for r in rows])
    rep = np.repeat(np.arange(len(rows)), w.astype(int))
    expected = auroc(s[rep], y[rep]) if len(rep) else math.nan
    got = weighted_auroc(s, y, w[None, :])[0]
    assert (math.isnan(expected) and math.isnan(got)) or got == pytest.approx(expected)
