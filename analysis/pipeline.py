"""The analysis as a library: fit every environment variant, find emergence, backtest the forecasts.

:func:`analyse` turns a results table (Contract 3) into one :class:`VariantAnalysis` per
environment variant — behaviour fits with oversight on and off, emergence scales, the
precursor's trend, its critical level (from the *other* variants, via
:func:`~bestiary.analysis.forecast.critical_level_of`) and the backtests — and
:func:`fits_table` lays every fit out as a table. Nothing here renders: the report
(:mod:`bestiary.analysis.report`) and scripts read these numbers.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bestiary.analysis.forecast import BacktestRow, backtest, critical_level_of, precursor_backtest
from bestiary.analysis.schema import PROBE_CONDITION
from bestiary.analysis.table import variant_label
from bestiary.analysis.trends import Emergence, InsufficientDataError, TrendFit, emergence, fit_trend, within_data

BEHAVIOUR = "violation_rate"
#: The precursor the first study found to forecast best (the cross-validated latent probe).
DEFAULT_PRECURSOR = "latent_probe_accuracy"


@dataclass
class VariantAnalysis:
    """Everything the report says about one environment variant."""

    key: tuple[str, str]
    failure_mode: str
    fits: dict[str, TrendFit] = field(default_factory=dict)
    emergences: dict[str, Emergence] = field(default_factory=dict)
    precursor_fit: TrendFit | None = None
    critical: float = math.nan
    backtest_rows: list[BacktestRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, bytes] = field(default_factory=dict)
    largest_gap: float = math.nan

    @property
    def label(self) -> str:
        """``env_id [knobs]``."""
        return variant_label(*self.key)


def organisms_of(df: pd.DataFrame, metric: str, condition: str) -> pd.DataFrame:
    """One row per finished organism of a metric in a condition."""
    return df[(df.metric == metric) & (df.condition == condition) & (df.status == "done")]


def analyse(
    df: pd.DataFrame,
    x: str = "params",
    tau: float = 0.5,
    precursor: str = DEFAULT_PRECURSOR,
    n_boot: int = 200,
    seed: int = 0,
) -> list[VariantAnalysis]:
    """Fit every environment variant of a results table."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # Bootstrap curves that never cross τ give all-nan slices; they are counted, not errors.
        warnings.simplefilter("ignore", RuntimeWarning)
        return _analyse(df, x, tau, precursor, n_boot, seed)


def _analyse(df: pd.DataFrame, x: str, tau: float, precursor: str, n_boot: int, seed: int) -> list[VariantAnalysis]:
    out = []
    done = df[df.status == "done"]
    for (env_id, kwargs), g in done.groupby(["env_id", "env_kwargs"], sort=True):
        va = VariantAnalysis((env_id, kwargs), str(g.failure_mode.iloc[0]))
        for cond in ("off", "on"):
            rows = organisms_of(g, BEHAVIOUR, cond)
            try:
                va.fits[cond] = fit_trend(rows, x=x, model="logistic", n_boot=n_boot, seed=seed)
                va.emergences[cond] = within_data(emergence(va.fits[cond], tau), va.fits[cond])
                va.notes += [f"oversight {cond}: {n}" for n in va.fits[cond].notes]
            except InsufficientDataError as exc:
                va.notes.append(f"oversight {cond}: no fit — {exc}")
                continue
            if va.emergences[cond].note:
                va.notes.append(f"oversight {cond}: {va.emergences[cond].note}")
        gap = organisms_of(g, "misalignment_gap", "gap")
        if not gap.empty:
            va.largest_gap = float(gap[gap[x] == gap[x].max()].value.mean())
        prows = organisms_of(g, precursor, PROBE_CONDITION)
        if not prows.empty:
            try:
                va.precursor_fit = fit_trend(prows, x=x, y="value", model="auto", n_boot=n_boot, seed=seed)
            except InsufficientDataError as exc:
                va.notes.append(f"precursor {precursor}: no fit — {exc}")
        out.append(va)
    _forecasts(out, done, x, tau, precursor, n_boot, seed)
    return out


def _forecasts(
    variants: list[VariantAnalysis], df: pd.DataFrame, x: str, tau: float, precursor: str, n_boot: int, seed: int
) -> None:
    """Backtests; the precursor's critical level of each variant comes from the *other* variants.

    A variant calibrates the level only where its own emergence is one the data support (the
    ``within_data`` rule): a logistic fitted to a flat control can cross τ far beyond the
    largest rung, and the precursor's value there is no level at which behaviour flipped.
    """
    levels: dict[tuple[str, str], float] = {}
    for va in variants:
        if "off" in va.fits and va.precursor_fit is not None:
            level = critical_level_of(va.fits["off"], va.precursor_fit, tau)
            if math.isfinite(level):
                levels[va.key] = level
    # Backtests refit every k, so they take fewer draws; none when the caller wants point fits only.
    bt_boot = max(20, n_boot // 4) if n_boot > 0 else 0
    for va in variants:
        g = df[(df.env_id == va.key[0]) & (df.env_kwargs == va.key[1])]
        behaviour = organisms_of(g, BEHAVIOUR, "off")
        e = va.emergences.get("off")
        if e is None or not math.isfinite(e.log10_scale):
            va.notes.append("no emergence with oversight off: nothing to forecast")
            continue
        others = {k: v for k, v in levels.items() if k != va.key and math.isfinite(v)}
        va.critical = float(np.mean(list(others.values()))) if others else math.nan
        if others:
            va.notes.append(
                f"precursor critical level {va.critical:.3g}: the mean of "
                + ", ".join(f"{variant_label(*k)} {v:.3g}" for k, v in sorted(others.items()))
            )
        try:
            va.backtest_rows = backtest(behaviour, x, tau, n_boot=bt_boot, seed=seed)
        except InsufficientDataError as exc:
            va.notes.append(f"behaviour backtest: {exc}")
        if others:
            va.backtest_rows += precursor_backtest(
                behaviour,
                organisms_of(g, precursor, PROBE_CONDITION),
                va.critical,
                x,
                tau,
                n_boot=bt_boot,
                seed=seed,
            )
        else:
            va.notes.append("precursor forecast: no other environment reached τ, so there is no critical level")


def fits_table(variants: list[VariantAnalysis], precursor: str) -> pd.DataFrame:
    """``fits.csv``: every fit with parameters, intervals and the derived quantities."""
    rows = []
    for va in variants:
        items = [(c, BEHAVIOUR, f, va.emergences.get(c)) for c, f in va.fits.items()]
        if va.precursor_fit is not None:
            items.append(("probe", precursor, va.precursor_fit, None))
        for cond, metric, fit, e in items:
            row: dict[str, Any] = {
                "env_id": va.key[0],
                "env_kwargs": va.key[1],
                "failure_mode": va.failure_mode,
                "condition": cond,
                "metric": metric,
                "model": fit.model,
                "selection": fit.selection,
                "aic": fit.aic,
                "organisms": len(fit.x),
                "notes": "; ".join(fit.notes),
            }
            for name, value in fit.params.items():
                lo, hi = fit.intervals().get(name, (math.nan, math.nan))
                row |= {name: value, f"{name}_lo": lo, f"{name}_hi": hi}
            if e is not None:
                row |= {
                    "tau": e.tau,
                    "emergence_log10": e.log10_scale,
                    "emergence_lo": e.interval[0],
                    "emergence_hi": e.interval[1],
                    "sharpness_decades": e.sharpness_decades,
                    "sharpness_lo": e.sharpness_interval[0],
                    "sharpness_hi": e.sharpness_interval[1],
                    "sudden": e.sudden,
                    "extrapolated": e.extrapolated,
                }
            rows.append(row)
    return pd.DataFrame(rows)
