"""Forecasts of the emergence scale from the smaller rungs only, and their backtests.

``backtest`` fits the k smallest rungs for every k, forecasts the emergence scale and
compares it with the fit on all rungs (the reference): the error in decades, whether the
forecast's interval covered the reference, and the lead time — how many decades below
the reference emergence scale the largest rung used was when the forecast first came within
a factor of two (or, the stable lead, came within it and stayed there for every later k
below the reference). Only forecasts whose rungs all lie below the reference emergence
scale count as forecasts; later ones are marked ``nowcast`` and never give a lead time.

The precursor forecast (docs/analysis.md): fit the smooth precursor trend on the same k rungs
and find where it reaches the *critical level* — the precursor's value at the emergence
scale in other environments (or, with one environment, other seeds) — which forecasts
the behavioural emergence scale before the behaviour itself has moved.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bestiary.analysis.beyond import open_above
from bestiary.analysis.support import forecastable
from bestiary.analysis.trends import InsufficientDataError, TrendFit, emergence, fit_trend, within_data

FACTOR_TWO = math.log10(2)


@dataclass(frozen=True)
class BacktestRow:
    """The forecast made from the ``k`` smallest rungs."""

    method: str  # behaviour | precursor
    k: int
    max_log10_scale_used: float
    forecast_log10: float
    interval: tuple[float, float]
    reference_log10: float
    error_decades: float
    covered: bool
    kind: str  # forecast | nowcast | none
    note: str = ""


def _k_rungs(data: pd.DataFrame, x: str, k: int) -> pd.DataFrame:
    rungs = np.sort(data[x].unique())[:k]
    return data[data[x].isin(rungs)]


def _row(
    method: str, k: int, used: float, fc: float, interval: tuple[float, float], ref: float, note: str = ""
) -> BacktestRow:
    err = abs(fc - ref) if np.isfinite(fc) and np.isfinite(ref) else math.nan
    covered = bool(np.isfinite(ref) and interval[0] <= ref <= interval[1])
    kind = "none" if not np.isfinite(fc) else ("forecast" if np.isfinite(ref) and used < ref else "nowcast")
    return BacktestRow(method, k, used, fc, interval, ref, err, covered, kind, note)


def backtest(
    data: pd.DataFrame, x: str = "params", tau: float = 0.5, min_rungs: int = 3, n_boot: int = 100, seed: int = 0
) -> list[BacktestRow]:
    """Behaviour-only backtest of a rate trend (rows per organism with ``successes``/``trials``).

    Raises:
        InsufficientDataError: If the full data cannot be fitted (no reference).
    """
    full = emergence(fit_trend(data, x=x, model="logistic", n_boot=n_boot, seed=seed), tau)
    ref = full.log10_scale
    rows = []
    n = data[x].nunique()
    for k in range(min_rungs, n + 1):
        sub = _k_rungs(data, x, k)
        used = float(np.log10(sub[x].max()))
        try:
            fit = fit_trend(sub, x=x, model="logistic", n_boot=n_boot, seed=seed)
            e = open_above(forecastable(emergence(fit, tau), fit), fit, seed)
            rows.append(_row("behaviour", k, used, e.log10_scale, e.interval, ref, e.note))
        except InsufficientDataError as exc:
            rows.append(_row("behaviour", k, used, math.nan, (math.nan, math.nan), ref, str(exc)))
    return rows


def critical_level_of(behaviour_fit: TrendFit, precursor_fit: TrendFit, tau: float = 0.5) -> float:
    """The precursor's fitted value at the emergence scale of a fitted behaviour trend (nan without one in the data)."""
    e = within_data(emergence(behaviour_fit, tau), behaviour_fit)
    if not np.isfinite(e.log10_scale):
        return math.nan
    return float(precursor_fit.predict(10**e.log10_scale))


def critical_level(
    behaviour: pd.DataFrame, precursor: pd.DataFrame, x: str = "params", tau: float = 0.5, n_boot: int = 0
) -> float:
    """The precursor's fitted value at the behavioural emergence scale (nan if no emergence the data support)."""
    fit = fit_trend(behaviour, x=x, model="logistic", n_boot=n_boot)
    pfit = fit_trend(precursor, x=x, y="value", model="auto", n_boot=0)
    return critical_level_of(fit, pfit, tau)


@dataclass(frozen=True)
class LevelSource:
    """Organisms of another variant whose behaviour's emergence calibrates a critical precursor level."""

    label: str
    behaviour: pd.DataFrame
    precursor: pd.DataFrame


#: A critical level as a function of the largest log10 scale a forecast used: (level, sources used).
LevelAt = Callable[[float], tuple[float, list[str]]]


def levels_from_below(sources: Sequence[LevelSource], x: str = "params", tau: float = 0.5) -> LevelAt:
    """Critical levels that use only organisms at or below the scale a forecast has seen.

    A forecast from the k smallest rungs may not borrow a level from another variant's emergence
    at scales far above its own data: for a forecast whose largest rung is ``10**u``, each source
    contributes only if its behaviour, fitted on its organisms with ``x ≤ 10**u``, crosses τ
    within those organisms; the level is the mean of the precursor's fitted values there.
    """
    cache: dict[tuple[str, int], float] = {}

    def one(src: LevelSource, used: float) -> float:
        b = src.behaviour[np.log10(src.behaviour[x].astype(float)) <= used + 1e-9]
        p = src.precursor[np.log10(src.precursor[x].astype(float)) <= used + 1e-9]
        key = (src.label, b[x].nunique())
        if key not in cache:
            cache[key] = math.nan
            if b[x].nunique() >= 3 and p[x].nunique() >= 2:
                try:
                    fit = fit_trend(b, x=x, model="logistic", n_boot=0)
                    e = emergence(fit, tau)
                    if math.isfinite(e.log10_scale) and e.log10_scale <= math.log10(b[x].max()):
                        pfit = fit_trend(p, x=x, y="value", model="auto", n_boot=0)
                        cache[key] = float(pfit.predict(10**e.log10_scale))
                except InsufficientDataError:
                    pass
        return cache[key]

    def at(used: float) -> tuple[float, list[str]]:
        found = [(src.label, one(src, used)) for src in sources]
        found = [(label, v) for label, v in found if math.isfinite(v)]
        if not found:
            return math.nan, []
        return float(np.mean([v for _, v in found])), [f"{label}: {v:.3g}" for label, v in found]

    return at


def precursor_backtest(
    behaviour: pd.DataFrame,
    precursor: pd.DataFrame,
    level: float | LevelAt,
    x: str = "params",
    tau: float = 0.5,
    min_rungs: int = 3,
    n_boot: int = 100,
    seed: int = 0,
    model: str = "auto",
) -> list[BacktestRow]:
    """Backtest of the precursor forecast: where the precursor trend fitted on k rungs reaches ``level``.

    Args:
        behaviour: Rate rows (for the reference emergence scale).
        precursor: Continuous rows of the precursor metric, same organisms.
        level: The critical precursor level (from other environments or seeds), or — so that no
            forecast borrows from scales above its own data — a function of the largest log10
            scale a forecast used giving the level calibrated at or below it
            (:func:`levels_from_below`).
        x: Scale column.
        tau: Danger level of the behaviour.
        min_rungs: Smallest k tried.
        n_boot: Bootstrap draws per fit.
        seed: Bootstrap seed.
        model: The precursor trend model (``auto``: lowest AIC on the k rungs used).
    """
    ref = emergence(fit_trend(behaviour, x=x, model="logistic", n_boot=0), tau).log10_scale
    rows = []
    for k in range(min_rungs, precursor[x].nunique() + 1):
        sub = _k_rungs(precursor, x, k)
        used = float(np.log10(sub[x].max()))
        if callable(level):
            lvl, sources = level(used)
            why = f"critical level {lvl:.3g} from organisms ≤ {10**used:,.3g}: " + "; ".join(sources)
        else:
            lvl, why = level, ""
        if not np.isfinite(lvl):
            note = "no critical level" + (f" from organisms ≤ {10**used:,.3g}" if callable(level) else "")
            rows.append(_row("precursor", k, used, math.nan, (math.nan, math.nan), ref, note))
            continue
        try:
            fit = fit_trend(sub, x=x, y="value", model=model, n_boot=n_boot, seed=seed)
            e = forecastable(emergence(fit, lvl), fit)
            rows.append(
                _row("precursor", k, used, e.log10_scale, e.interval, ref, "; ".join(filter(None, [why, e.note])))
            )
        except InsufficientDataError as exc:
            rows.append(_row("precursor", k, used, math.nan, (math.nan, math.nan), ref, str(exc)))
    return rows


def lead_time(rows: list[BacktestRow], stable: bool = False) -> float:
    """Lead time in decades: the reference minus the largest rung used when the forecast came within ×2.

    Args:
        rows: Backtest rows of one method, in order of k.
        stable: Count only a forecast from which every later one made before the reference (every k
            whose rungs all lie below it) also stayed within ×2, so that one lucky fit followed by
            misses gives no lead. Without it, the first forecast within ×2 counts (the definition
            of docs/analysis.md).

    Returns:
        The lead in decades, or nan if no forecast qualifies.
    """
    before = [r for r in rows if np.isfinite(r.reference_log10) and r.max_log10_scale_used < r.reference_log10]
    hits = [r.kind == "forecast" and r.error_decades <= FACTOR_TWO for r in before]
    for i, r in enumerate(before):
        if hits[i] and (all(hits[i:]) or not stable):
            return r.reference_log10 - r.max_log10_scale_used
    return math.nan
