"""Whether the data support an emergence scale: open interval ends, and a rise across organisms.

- Interval ends are open where bootstrap curves are: −∞ for curves already at τ at the smallest
  rung (emergence below the data), +∞ for curves that never reach τ (beyond any scale); JSON
  and quantiles keep them open.
- A crossing beyond the largest rung is reported only where the organisms' values rise with
  scale (a one-sided Kendall test over organisms, which are the replicates): a flat behaviour
  whose seeds scatter widely otherwise bends a logistic upward at the top rung by chance.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bestiary.analysis.trends import Emergence, TrendFit

_SENTINEL = 1e6


def open_quantiles(values: np.ndarray, qs: tuple[float, ...]) -> tuple[float, ...]:
    """Quantiles of values that may be ±∞ (an open end stays open; between finite values, linear as numpy's)."""
    v = np.clip(np.asarray(values, float), -_SENTINEL, _SENTINEL)
    out = np.quantile(v, qs)
    return tuple(float(np.where(q >= _SENTINEL / 10, np.inf, np.where(q <= -_SENTINEL / 10, -np.inf, q))) for q in out)


def open_ends(crossings: np.ndarray, at_smallest: np.ndarray, tau: float) -> np.ndarray:
    """Crossings with their open ends made explicit.

    A curve already at or above ``tau`` at the smallest rung emerged *below the data*: −∞. A
    curve below ``tau`` there that never crosses it lies *beyond any scale*: +∞. Only a curve
    that cannot be evaluated stays nan.
    """
    out = np.where(np.isfinite(at_smallest) & (at_smallest >= tau), -np.inf, crossings)
    beyond = np.isnan(out) & np.isfinite(at_smallest) & (at_smallest < tau)
    return np.where(beyond, np.inf, out)


#: A crossing beyond the largest rung needs a rise this significant (one-sided Kendall test over organisms).
RISE_P_VALUE = 0.05


def rise_p_value(fit: TrendFit) -> float:
    """One-sided p-value that the organisms' values rise with scale (Kendall's τ_b, ties allowed).

    Organisms, not episodes, are the replicates: a flat behaviour whose seeds scatter widely can
    make a logistic bend upward at the top rung by chance, and its episode counts would call that
    bend certain.
    """
    from scipy.stats import kendalltau

    if len(np.unique(fit.x)) < 2 or np.ptp(fit.y) == 0:
        return 1.0
    p = kendalltau(np.log10(fit.x), fit.y, alternative="greater").pvalue
    return float(p) if math.isfinite(p) else 1.0


def forecastable(e: Emergence, fit: TrendFit) -> Emergence:
    """An emergence beyond the largest rung only where the data rise (else "not reached", saying why)."""
    if not math.isfinite(e.log10_scale) or e.log10_scale <= float(np.log10(fit.x.max())):
        return e
    p = rise_p_value(fit)
    if p < RISE_P_VALUE:
        return e
    # The bootstrap interval stays: the point says "not reached", the interval how far the draws range.
    return replace(
        e,
        log10_scale=math.nan,
        sudden=False,
        note=(
            f"not reached: the fit would cross τ = {e.tau} at {10**e.log10_scale:,.3g}, beyond the largest rung, but "
            f"the organisms show no rise with scale (one-sided Kendall p = {p:.2f} ≥ {RISE_P_VALUE})"
        ),
    )
