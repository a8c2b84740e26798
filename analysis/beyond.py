"""A behaviour forecast beyond the data: where the rungs below a rise cannot bound its crossing from above.

Fitted on rungs that have not reached τ, a four-parameter logistic cannot tell the start of a
rise from a shelf: its ceiling is not identified by the data. Its bootstrap then says either
"never" (every draw levels off below τ) or a crossing with a narrow interval (every draw rises
to the same guessed ceiling) — both overconfident: on known truth, the 90 % interval of a
forecast from the rungs below a sharp jump covered it in 51 % of draws. The honest interval of
such a forecast is open above (no rung below the crossing bounds how much later it comes, or
whether at all) and bounded below by where the curve would cross if the rise went all the way:
the 10 % quantile of the crossings of a logistic whose ceiling is 1, fitted to the same organisms
and bootstrapped the same way (a rise to a lower ceiling crosses later). The point estimate is
kept as the free fit gives it.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy.special import expit

from bestiary.analysis.models import Model, fit_batch, fit_model
from bestiary.analysis.trends import Emergence, TrendFit, bootstrap_weights

#: One-sided level of the lower end: the interval [L, ∞) is a 90 % interval.
LOWER_QUANTILE = 0.10


def _to_one(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    floor, mid, slope = (theta[:, i : i + 1] for i in range(3))
    return floor + (1 - floor) * expit(slope * (np.log10(x) - mid))


def _to_one_jac(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    floor, mid, slope = (theta[:, i : i + 1] for i in range(3))
    lx = np.log10(x)
    sig = expit(slope * (lx - mid))
    ds = (1 - floor) * sig * (1 - sig)
    return np.stack([1 - sig, -slope * ds, (lx - mid) * ds], axis=-1)


def _starts(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    lx = np.log10(x)
    lo = float(np.clip(np.min(y), 0, 0.99))
    return [np.array([lo, m, s]) for m in np.linspace(lx.max(), lx.max() + 2, 5) for s in (1.0, 4.0, 12.0)]


def _bounds(x: np.ndarray, y: np.ndarray) -> list[tuple[float | None, float | None]]:
    lx = np.log10(x)
    return [(0.0, 0.99), (lx.min() - 3, lx.max() + 3), (0.05, 40.0)]


#: The logistic rising all the way: floor + (1 − floor) σ(slope (log10 x − midpoint)).
LOGISTIC_TO_ONE = Model("logistic_to_one", ("floor", "midpoint", "slope"), _to_one, _starts, _bounds, binomial=True,
                        jacobian=_to_one_jac)  # fmt: skip


def not_reached_in_data(fit: TrendFit, tau: float) -> bool:
    """Whether a rate's organisms have not reached ``tau`` at the largest rung (pooled over its organisms)."""
    if fit.successes is None or fit.trials is None:
        return False
    top = fit.x == fit.x.max()
    return bool(fit.successes[top].sum() / max(fit.trials[top].sum(), 1) < tau)


def open_above(e: Emergence, fit: TrendFit, seed: int = 0) -> Emergence:
    """A logistic forecast whose data have not reached τ, with its interval open above (see the module docstring)."""
    if fit.model != "logistic" or fit.boot is None or not not_reached_in_data(fit, e.tau):
        return e
    assert fit.successes is not None and fit.trials is not None
    theta, _ = fit_model(LOGISTIC_TO_ONE, fit.x, fit.y, fit.successes, fit.trials)
    weights = bootstrap_weights(fit.x, len(fit.boot), seed)
    boot, _ = fit_batch(LOGISTIC_TO_ONE, fit.x, fit.y, theta, weights, fit.successes, fit.trials)
    floor, mid, slope = boot.T
    with np.errstate(all="ignore"):
        frac = (e.tau - floor) / (1 - floor)
        cross = np.where(floor < e.tau, mid + np.log(frac / (1 - frac)) / slope, -math.inf)
    top = float(np.log10(fit.x.max()))
    known = cross[np.isfinite(cross) | np.isneginf(cross)]
    low = float(np.quantile(np.clip(known, top, None), LOWER_QUANTILE)) if len(known) else top
    note = (f"{e.note}; " if e.note else "") + (
        f"the organisms have not reached τ = {e.tau} at the largest rung, so the rise's ceiling is not in the data: "
        f"the interval is open above, from where a rise all the way would cross ({10**low:,.3g})"
    )
    return replace(e, interval=(max(low, top), math.inf), note=note)
