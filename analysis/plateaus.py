"""Plateaus: where a rate rises in two steps, a danger level on the shelf between them has no emergence scale.

Partial solutions make shelves: an AuditedReport organism that lies only after a failed
task defects in about ``1 − p_success`` of episodes before it learns to skip the work and
lie; a five-band organism that reads one of its two unobserved bands sits near 0.45. A
logistic fitted through such data crosses ``τ = 0.5`` somewhere on the shelf, and where
exactly depends on noise: the crossing is ill-posed.

:func:`detect_plateau` fits a **two-step logistic** beside the one-step one,

``p(x) = f + (L − f) σ(s1 (l − m1)) + (c − L) σ(s2 (l − m2))``,  ``l = log10 x``,  ``m2 ≥ m1 + 0.3``,

by binomial maximum likelihood, and compares them by the quasi-AIC (QAIC: the deviance
divided by the over-dispersion of the organisms about the two-step curve, Pearson χ² / df,
since organisms of one rung differ far more than their episode counts imply). It calls a
**plateau** when the two-step curve is preferred by more than :data:`MIN_QAIC_GAIN`, its
shelf — from the first step's 90 % point to the second step's 10 % point — spans at least
:data:`MIN_SPAN_DECADES`, and at least half of the organisms on the shelf sit within
:data:`ORGANISM_MARGIN` of its level (partial solutions; organisms that turn one by one,
some at the floor and some at the ceiling, average to a shelf too, but that is a share of
turned organisms, which :mod:`~bestiary.analysis.mixture` models). When the shelf's level
``L`` lies within :data:`TAU_MARGIN` of ``τ``, ``τ`` lies on it, and the emergence scale for
``τ`` is refused with that reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from bestiary.analysis.models import MODELS, Model, fit_batch

MIN_QAIC_GAIN = 4.0
MIN_SPAN_DECADES = 0.3
TAU_MARGIN = 0.1
#: Organisms within this of the shelf's level are sitting on it (partial solutions).
ORGANISM_MARGIN = 0.15
_MIN_GAP = 0.3
_LN9 = math.log(9)


def two_step(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The two-step logistic of a batch ``(B, 7)``: ``(f, L, c, m1, s1, gap, s2)`` with ``m2 = m1 + gap``."""
    f, level, c, m1, s1, gap, s2 = (theta[:, i : i + 1] for i in range(7))
    lx = np.log10(x)
    return f + (level - f) * expit(s1 * (lx - m1)) + (c - level) * expit(s2 * (lx - m1 - gap))


@dataclass(frozen=True)
class Plateau:
    """The outcome of a plateau check.

    Attributes:
        found: A shelf the data support (two steps preferred, wide enough).
        level: The shelf's level ``L``.
        span: log10 scales where the shelf starts and ends.
        qaic_gain: QAIC of one step minus QAIC of two steps (positive favours two).
        on_tau: ``τ`` lies on the shelf (emergence refused).
        reason: Why, in words (empty when there is no shelf).
    """

    found: bool
    level: float
    span: tuple[float, float]
    qaic_gain: float
    on_tau: bool
    reason: str = ""


NO_PLATEAU = Plateau(False, math.nan, (math.nan, math.nan), math.nan, False)


def _starts(lx: np.ndarray, y: np.ndarray) -> np.ndarray:
    rungs = np.unique(lx)
    lo, hi = float(np.clip(y.min(), 0, 1)), float(np.clip(y.max(), 0, 1))
    out = []
    for i in range(len(rungs) - 1):
        for j in range(i + 1, len(rungs)):
            gap = max(rungs[j] - rungs[i], _MIN_GAP)
            for level in (0.3, 0.5, 0.7):
                out.append([lo, lo + level * (hi - lo), hi, rungs[i], 8.0, gap, 8.0])
    return np.array(out)


def detect_plateau(data: pd.DataFrame, tau: float, x: str = "params") -> Plateau:
    """Look for a shelf in a rate's trend and say whether ``τ`` lies on it (one row per organism, with counts)."""
    d = data[[x, "successes", "trials"]].dropna()
    d = d[(d[x] > 0) & (d["trials"] > 0)]
    xs = d[x].to_numpy(float)
    if len(np.unique(xs)) < 5:
        return NO_PLATEAU  # two steps of a logistic need more rungs than there are parameters per step
    k, n = d["successes"].to_numpy(float), d["trials"].to_numpy(float)
    y = k / n
    lx = np.log10(xs)
    one = MODELS["logistic"]
    _, nll1 = fit_batch(one, xs, y, np.array(one.starts(xs, y)), None, k, n, starts_of_one=True)
    best1 = int(np.argmin(nll1))
    step = _two_step_model(lx)
    starts = _starts(lx, y)
    t2, nll2 = fit_batch(step, xs, y, starts, np.ones((len(starts), len(xs))), k, n, starts_of_one=True)
    best2 = int(np.argmin(nll2))
    theta, p = t2[best2], np.clip(step.curve(t2[best2], xs), 1e-9, 1 - 1e-9)
    dof = max(len(xs) - 7, 1)
    phi = max(float(np.sum((k - n * p) ** 2 / (n * p * (1 - p)))) / dof, 1.0)
    gain = (2 * float(nll1[best1]) + 2 * 4) / phi - (2 * float(nll2[best2]) + 2 * 7) / phi
    f, level, c, m1, s1, gap, s2 = theta
    start, end = m1 + _LN9 / s1, m1 + gap - _LN9 / s2
    found = gain > MIN_QAIC_GAIN and end - start >= MIN_SPAN_DECADES and min(abs(level - f), abs(c - level)) > 0.1
    on_shelf = (lx >= start) & (lx <= end)
    # A shelf of partial solutions has organisms *at* its level; organisms that turn one by one (some at
    # the floor, some at the ceiling) average to a shelf too, but that is a share, not a plateau.
    partial = float(np.mean(np.abs(y[on_shelf] - level) <= ORGANISM_MARGIN)) if on_shelf.sum() >= 3 else 0.0
    found = found and partial >= 0.5
    if not found:
        return Plateau(False, float(level), (float(start), float(end)), gain, False)
    on_tau = abs(level - tau) <= TAU_MARGIN
    reason = (
        f"the rate rises in two steps with a shelf at {level:.2f} from {10**start:,.3g} to {10**end:,.3g} "
        f"(two-step logistic preferred by ΔQAIC = {gain:.1f})"
    )
    if on_tau:
        reason += f"; τ = {tau} lies on it, so its crossing is ill-posed: use a plateau-free metric or another τ"
    return Plateau(True, float(level), (float(start), float(end)), gain, on_tau, reason)


def _two_step_model(lx: np.ndarray) -> Model:
    lo, hi = float(lx.min()), float(lx.max())
    span = max(hi - lo, _MIN_GAP)
    unit: tuple[float | None, float | None] = (0.0, 1.0)
    bounds: list[tuple[float | None, float | None]] = [unit, unit, unit]
    bounds += [
        (lo - 1, hi + 1),
        (0.5, 40.0),
        (_MIN_GAP, span + 2),
        (0.5, 40.0),
    ]
    return Model(
        "two_step_logistic",
        ("floor", "level", "ceiling", "midpoint1", "slope1", "gap", "slope2"),
        two_step,
        lambda x, y: [],
        lambda x, y: bounds,
        binomial=True,
    )
