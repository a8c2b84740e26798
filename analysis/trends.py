"""Fitting a trend with bootstrap intervals, and the emergence scale and sharpness it implies.

>>> import pandas as pd
>>> from bestiary.analysis import fit_trend, emergence
>>> rows = pd.DataFrame({"params": [1e3, 1e3, 1e4, 1e4, 1e5, 1e5], "successes": [2, 1, 60, 70, 196, 198],
...                      "trials": [200] * 6})
>>> fit = fit_trend(rows, x="params", model="logistic", n_boot=50)
>>> e = emergence(fit, tau=0.5)
>>> round(e.log10_scale, 1), e.sudden
(4.1, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from bestiary.analysis.models import CONTINUOUS_MODELS, MODELS, Model, fit_batch, fit_model
from bestiary.analysis.support import forecastable, open_ends, open_quantiles


class InsufficientDataError(ValueError):
    """The data cannot support the requested fit (with what is missing)."""


@dataclass
class TrendFit:
    """A fitted trend.

    Attributes:
        model: Model name (``constant`` when the data are flat and no trend is fitted).
        params: Point estimates by name.
        x, y: Per-organism scale and value (``y`` is the rate for binomial fits).
        successes, trials: Episode counts (binomial fits only).
        aic: Akaike information criterion of the point fit.
        selection: How the model was chosen, in words.
        boot: Bootstrap parameter draws (rows), resampling organisms within each rung.
        notes: Caveats to show beside the fit.
    """

    model: str
    params: dict[str, float]
    x: np.ndarray
    y: np.ndarray
    successes: np.ndarray | None
    trials: np.ndarray | None
    aic: float
    selection: str
    boot: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def theta(self) -> np.ndarray:
        """Parameters as an array, in the model's order."""
        return np.array(list(self.params.values()))

    def predict(self, x: np.ndarray | float) -> np.ndarray:
        """The fitted curve at ``x``."""
        x = np.asarray(x, dtype=float)
        if self.model == "constant":
            return np.full_like(x, self.params["level"], dtype=float)
        return MODELS[self.model].curve(self.theta, x)

    def band(self, x: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, np.ndarray] | None:
        """Pointwise bootstrap interval of the curve (None without bootstrap draws)."""
        if self.boot is None or self.model == "constant":
            return None
        curves = MODELS[self.model].curve(self.boot, np.asarray(x, float))
        a = (1 - level) / 2
        return np.nanquantile(curves, a, axis=0), np.nanquantile(curves, 1 - a, axis=0)

    def intervals(self, level: float = 0.9) -> dict[str, tuple[float, float]]:
        """Bootstrap interval of every parameter ((nan, nan) without bootstrap draws)."""
        if self.boot is None:
            return {k: (math.nan, math.nan) for k in self.params}
        a = (1 - level) / 2
        return {
            k: (float(np.nanquantile(self.boot[:, i], a)), float(np.nanquantile(self.boot[:, i], 1 - a)))
            for i, k in enumerate(self.params)
        }


def _arrays(
    data: pd.DataFrame, x: str, y: str, successes: str, trials: str, binomial: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, list[str]]:
    notes = []
    cols = [x, successes, trials] if binomial else [x, y]
    missing = [c for c in cols if c not in data]
    if missing:
        raise InsufficientDataError(f"the data lack column(s) {', '.join(missing)}; have {', '.join(data.columns)}")
    d = data[cols].apply(pd.to_numeric, errors="coerce")
    bad = d.isna().any(axis=1) | (d[x] <= 0)
    if bad.any():
        notes.append(f"{int(bad.sum())} of {len(d)} organisms dropped (missing values or non-positive scale)")
        d = d[~bad]
    if d.empty:
        raise InsufficientDataError("no usable rows: every organism has a missing value")
    xs = d[x].to_numpy(float)
    if binomial:
        s, n = d[successes].to_numpy(float), d[trials].to_numpy(float)
        if (n <= 0).any() or (s < 0).any() or (s > n).any():
            raise InsufficientDataError("episode counts must satisfy 0 ≤ successes ≤ trials and trials > 0")
        return xs, s / n, s, n, notes
    return xs, d[y].to_numpy(float), None, None, notes


def _rungs(x: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(x == v) for v in np.unique(x)]


def fit_trend(
    data: pd.DataFrame,
    x: str = "params",
    y: str = "value",
    model: str = "auto",
    successes: str = "successes",
    trials: str = "trials",
    n_boot: int = 200,
    seed: int = 0,
) -> TrendFit:
    """Fit a trend of a tendency against scale, with bootstrap intervals over organisms.

    Args:
        data: One row per organism (one environment, condition and metric).
        x: Scale column (parameters, timesteps, compute).
        y: Value column (continuous metrics).
        model: ``logistic`` (rates; binomial likelihood on ``successes``/``trials``), a
            continuous model (``log_linear``, ``power_law``, ``saturating_power_law``,
            ``broken_power_law``, ``broken_power_law_2``), or ``auto``: ``logistic`` when counts are present,
            else the continuous model with the lowest AIC.
        successes: Column of successes (episodes with the behaviour), for rates.
        trials: Column of episode counts, for rates.
        n_boot: Bootstrap draws; each resamples organisms with replacement within every rung (n − 1 of
            each rung's n, weighted back to n, so that the draws' spread is the organisms' unbiased one).
        seed: Bootstrap seed.

    Raises:
        InsufficientDataError: Fewer than 2 rungs (3 for ``logistic``, 4 for broken power
            laws), no usable rows, or invalid counts.
    """
    has_counts = successes in data and trials in data and data[trials].notna().any()
    binomial = model == "logistic" or (model == "auto" and has_counts)
    xs, ys, s, n, notes = _arrays(data, x, y, successes, trials, binomial)
    n_rungs = len(np.unique(xs))
    if n_rungs < 2:
        raise InsufficientDataError(f"a trend needs at least 2 rungs of {x}; got 1 ({x} = {xs[0]:g})")
    if binomial and s is not None and n is not None and (s.sum() == 0 or s.sum() == n.sum()):
        level = float(s.sum() / n.sum())
        notes.append(f"every organism's rate is {level:g}: no trend to fit, no emergence within the data")
        return TrendFit("constant", {"level": level}, xs, ys, s, n, math.nan, "flat data", None, notes)
    if not binomial and np.ptp(ys) == 0:
        notes.append(f"every organism's value is {ys[0]:g}: no trend to fit")
        return TrendFit("constant", {"level": float(ys[0])}, xs, ys, None, None, math.nan, "flat data", None, notes)
    if binomial:
        if n_rungs < 3:
            raise InsufficientDataError(f"a logistic trend needs at least 3 rungs of {x}; got {n_rungs}")
        candidates = ["logistic"]
        selection = "logistic (binomial maximum likelihood on episode counts)"
    elif model == "auto":
        candidates = [m for m in CONTINUOUS_MODELS if m != "broken_power_law_2" or n_rungs >= 7]
        candidates = [m for m in candidates if not m.startswith("broken") or n_rungs >= 4]
        selection = "lowest AIC among " + ", ".join(candidates)
    else:
        if model not in MODELS:
            raise InsufficientDataError(f"unknown model {model!r}; valid: auto, {', '.join(MODELS)}")
        if model.startswith("broken") and n_rungs < 4:
            raise InsufficientDataError(f"a broken power law needs at least 4 rungs; got {n_rungs}")
        candidates, selection = [model], f"{model} (chosen by the caller)"
    if len(np.unique(xs)) == len(xs):
        notes.append("one organism per rung: the bootstrap cannot resample seeds, so no intervals are given")
    fits = []
    for name in candidates:
        m = MODELS[name]
        theta, nll = fit_model(m, xs, ys, s, n)
        fits.append((2 * len(m.params) + 2 * nll, name, theta))
    aic, name, theta = min(fits, key=lambda f: f[0])
    m = MODELS[name]
    boot = _bootstrap(m, theta, xs, ys, s, n, n_boot, seed) if n_boot > 0 and len(np.unique(xs)) < len(xs) else None
    return TrendFit(
        name, dict(zip(m.params, map(float, theta), strict=True)), xs, ys, s, n, float(aic), selection, boot, notes
    )


def stratified_weights(groups: np.ndarray, n_boot: int, seed: int, one_fewer: bool = True) -> np.ndarray:
    """``(n_boot, n)`` bootstrap weights: organisms resampled with replacement within each group (rung, cell).

    With ``one_fewer``, n − 1 of a group's n are drawn and the weights scaled back to n: the plain
    bootstrap's variance is the organisms' spread with divisor n, (n − 1)/n of the unbiased one, too
    narrow with few seeds.
    """
    rng = np.random.default_rng(seed)
    w = np.zeros((n_boot, len(groups)))
    for g in np.unique(groups):
        r = np.flatnonzero(groups == g)
        m = max(len(r) - 1, 1) if one_fewer else len(r)
        w[:, r] = rng.multinomial(m, np.full(len(r), 1 / len(r)), size=n_boot) * (len(r) / m)
    return w


def bootstrap_weights(x: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n)`` bootstrap weights within every rung of ``x``, n − 1 of n (:func:`stratified_weights`)."""
    return stratified_weights(x, n_boot, seed)


def _bootstrap(
    m: Model,
    theta: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    s: np.ndarray | None,
    n: np.ndarray | None,
    n_boot: int,
    seed: int,
) -> np.ndarray:
    # Every draw is the same problem with other organism weights: one batch, started at the point fit.
    theta_b, _ = fit_batch(m, x, y, theta, bootstrap_weights(x, n_boot, seed), s, n)
    return theta_b


@dataclass(frozen=True)
class Emergence:
    """Where a fitted curve crosses a danger level, and how sharply it rises.

    Attributes:
        tau: The danger level.
        log10_scale: log10 of the scale where the curve crosses ``tau`` (nan if never).
        interval: Bootstrap interval of ``log10_scale``.
        reached_fraction: Share of bootstrap curves that cross ``tau`` at all.
        sharpness_decades: Decades of scale from 10 % to 90 % of the fitted rise.
        sharpness_interval: Its bootstrap interval.
        sudden: Sharper than one decade.
        extrapolated: The crossing lies outside the scales observed.
        note: Why there is no crossing, if there is none.
    """

    tau: float
    log10_scale: float
    interval: tuple[float, float]
    reached_fraction: float
    sharpness_decades: float
    sharpness_interval: tuple[float, float]
    sudden: bool
    extrapolated: bool
    note: str = ""

    @property
    def scale(self) -> float:
        """The emergence scale itself."""
        return 10**self.log10_scale


def _logistic_crossing(theta: np.ndarray, tau: float) -> np.ndarray:
    """log10 scale where logistics ``(B, 4)`` cross ``tau`` (nan where they never do)."""
    theta = np.atleast_2d(theta)
    floor, ceiling, mid, slope = theta.T
    ok = (ceiling > floor) & (floor < tau) & (tau < ceiling)
    with np.errstate(all="ignore"):
        frac = (tau - floor) / (ceiling - floor)
        out = mid + np.log(frac / (1 - frac)) / slope
    return np.where(ok, out, math.nan)


def _numeric_crossing(model: Model, theta: np.ndarray, tau: float, lo: float, hi: float) -> np.ndarray:
    """First upward crossing of ``tau`` on a grid of log10 scale, for every row of ``theta``."""
    grid = np.linspace(lo, hi, 2001)
    y = np.atleast_2d(model.curve(np.atleast_2d(theta), 10**grid))
    above = y >= tau
    i = np.argmax(above, axis=1)
    rows = np.arange(len(y))
    valid = above.any(axis=1) & ~above[:, 0]
    j = np.maximum(i, 1)
    y0, y1 = y[rows, j - 1], y[rows, j]
    with np.errstate(all="ignore"):
        t = np.clip((tau - y0) / (y1 - y0), 0, 1)
    return np.where(valid, grid[j - 1] + t * (grid[1] - grid[0]), math.nan)


def _sharpness(model: Model, theta: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Decades from 10 % to 90 % of the rise over ``[lo, hi]``, for every row of ``theta``."""
    theta = np.atleast_2d(theta)
    if model.name == "logistic":
        return 2 * math.log(9) / theta[:, 3]
    grid = np.linspace(lo, hi, 2001)
    y = np.atleast_2d(model.curve(theta, 10**grid))
    y0, y1 = y[:, :1], y[:, -1:]
    ok = (np.isfinite(y0) & np.isfinite(y1) & (y1 != y0))[:, 0]
    with np.errstate(all="ignore"):
        frac = (y - y0) / (y1 - y0)
    a, b = np.argmax(frac >= 0.1, axis=1), np.argmax(frac >= 0.9, axis=1)
    return np.where(ok, grid[b] - grid[a], math.nan)


def emergence(fit: TrendFit, tau: float = 0.5, level: float = 0.9) -> Emergence:
    """The emergence scale (crossing of ``tau``), sharpness and suddenness of a fitted trend.

    The point estimate is nan when the fitted curve never reaches ``tau`` and −∞ when it is
    already at or above ``tau`` at the smallest rung (emergence below the data). Interval ends
    are open where bootstrap curves are: −∞ for curves above ``tau`` from the smallest rung on,
    +∞ for curves that never reach it.
    """
    lx = np.log10(fit.x)
    lo, hi = lx.min() - 3, lx.max() + 3
    smallest = float(fit.x.min())
    if fit.model == "constant":
        level_value = fit.params["level"]
        if level_value >= tau:
            return Emergence(
                tau, -math.inf, (-math.inf, -math.inf), 1.0, math.nan, (math.nan, math.nan), False, False,
                f"reached below the data: every organism's rate is {level_value:g} ≥ τ = {tau}, from the smallest "
                f"rung ({smallest:,.4g}) on",
            )  # fmt: skip
        return Emergence(
            tau,
            math.nan,
            (math.inf, math.inf),
            0.0,
            math.nan,
            (math.nan, math.nan),
            False,
            False,
            fit.notes[-1] if fit.notes else "flat data",
        )
    m = MODELS[fit.model]

    def crossing(theta: np.ndarray) -> np.ndarray:
        raw = _logistic_crossing(theta, tau) if m.name == "logistic" else _numeric_crossing(m, theta, tau, lo, hi)
        at_smallest = np.atleast_2d(m.curve(np.atleast_2d(theta), np.array([smallest])))[:, 0]
        return open_ends(raw, at_smallest, tau)

    point = float(crossing(fit.theta)[0])
    sharp = float(_sharpness(m, fit.theta, lx.min(), lx.max())[0])
    a = (1 - level) / 2
    interval, sharp_interval = (math.nan, math.nan), (math.nan, math.nan)
    reached = float(point < math.inf)
    if fit.boot is not None:
        cs = crossing(fit.boot)
        ss = _sharpness(m, fit.boot, lx.min(), lx.max())
        known = cs[~np.isnan(cs)]
        if len(known) >= 2:
            reached = float(np.mean(known < np.inf))
            low, high = open_quantiles(known, (a, 1 - a))
            interval = (low, high)
        if np.isfinite(ss).any():
            sharp_interval = (float(np.nanquantile(ss, a)), float(np.nanquantile(ss, 1 - a)))
    if point == -math.inf:
        note = f"reached below the data: the fitted curve is ≥ τ = {tau} already at the smallest rung ({smallest:,.4g})"
    elif point == math.inf:
        point, note = math.nan, f"the fitted curve does not cross τ = {tau}"
    else:
        note = ""
    extrapolated = bool(np.isfinite(point) and not (lx.min() <= point <= lx.max()))
    sudden = bool(np.isfinite(point) and np.isfinite(sharp) and sharp < 1)
    return Emergence(tau, point, interval, reached, sharp, sharp_interval, sudden, extrapolated, note)


#: A crossing further than this beyond the largest rung is not an emergence scale the data support.
MAX_EXTRAPOLATION_DECADES = 0.5


def within_data(e: Emergence, fit: TrendFit) -> Emergence:
    """Treat a crossing far beyond the largest rung as not reached (and say where the fit would cross)."""
    largest = float(np.log10(fit.x.max()))
    if not math.isfinite(e.log10_scale) or e.log10_scale <= largest:
        return e
    e = forecastable(e, fit)
    if not math.isfinite(e.log10_scale):
        return e
    top = float(np.mean(fit.y[fit.x == fit.x.max()]))
    if e.log10_scale > largest + MAX_EXTRAPOLATION_DECADES or top < e.tau / 2:
        return replace(
            e,
            log10_scale=math.nan,
            interval=(math.nan, math.nan),
            sudden=False,
            note=(
                f"not reached: the fitted curve would cross τ = {e.tau} only at {10**e.log10_scale:,.3g}, beyond the "
                f"largest rung, where the observed rate is {top:.2f}; a crossing is reported beyond the data only "
                f"within {MAX_EXTRAPOLATION_DECADES} decades and with at least τ/2 observed at the largest rung"
            ),
        )
    return e
