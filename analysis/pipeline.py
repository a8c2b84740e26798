"""The analysis as a library: fit every environment variant, find emergence, backtest the forecasts.

:func:`analyse` turns a results table (Contract 3) into one :class:`VariantAnalysis` per
environment variant and training budget — behaviour fits with oversight on and off,
emergence scales (refused where ``τ`` lies on a plateau), the per-organism emergence
model, the plateau-free behaviour kinds, the convergence of the organisms, the
precursor's trend, its critical level (from variants of *other mechanisms* only, via
:func:`~bestiary.analysis.forecast.critical_level_of`) and the backtests — and
:func:`fits_table` lays every fit out as a table. Nothing here renders: the report
(:mod:`bestiary.analysis.report`) and scripts read these numbers.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from bestiary.analysis.forecast import (
    BacktestRow,
    LevelSource,
    backtest,
    critical_level_of,
    levels_from_below,
    precursor_backtest,
)
from bestiary.analysis.mixture import MixtureFit, fit_mixture
from bestiary.analysis.plateaus import Plateau, detect_plateau
from bestiary.analysis.schema import BUILT_IN_KINDS, PROBE_CONDITION, TRAIN_CONDITION
from bestiary.analysis.table import declared_kinds, variant_label
from bestiary.analysis.trends import Emergence, InsufficientDataError, TrendFit, emergence, fit_trend, within_data

BEHAVIOUR = "violation_rate"
#: The precursor the first study found to forecast best (the cross-validated latent probe).
DEFAULT_PRECURSOR = "latent_probe_accuracy"


def behaviour_kinds(df: pd.DataFrame) -> list[str]:
    """The plateau-free behaviour kinds a table holds, oversight off: those its environments declare.

    Environments name their own kinds (Bestiary's: ``worst_band_violation``, ``lie_after_failure``,
    ``skip_and_lie``; a plugin's, its own) in the table's ``declared_kinds`` column; a table without
    it falls back to Bestiary's. Other rates an environment reports are diagnostics, not fitted. A
    kind's danger level is the violation rate's τ: each is the rate at which the organism takes the
    dangerous strategy where it can (docs/analysis.md).
    """
    declared = declared_kinds(df)
    declared = list(BUILT_IN_KINDS) if declared is None else declared
    off = df[(df.condition == "off") & df.trials.notna() & df.metric.isin(declared)]
    return sorted(off.metric.astype(str).unique())


@dataclass
class VariantAnalysis:
    """Everything the report says about one environment variant at one training budget."""

    key: tuple[str, str]
    failure_mode: str
    timesteps: float = math.nan
    mechanism: str = ""
    several_budgets: bool = False
    fits: dict[str, TrendFit] = field(default_factory=dict)
    emergences: dict[str, Emergence] = field(default_factory=dict)
    plateau: Plateau | None = None
    mixture: MixtureFit | None = None
    kinds: dict[str, tuple[TrendFit, Emergence]] = field(default_factory=dict)
    converged: dict[float, float] = field(default_factory=dict)
    precursor_fit: TrendFit | None = None
    critical: float = math.nan
    critical_sources: list[str] = field(default_factory=list)
    #: The other variants' organisms that calibrate the level, for levels from below a forecast's scale.
    level_sources: list[LevelSource] = field(default_factory=list)
    backtest_rows: list[BacktestRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)  # the report's: FigureJob, then PNG bytes once drawn
    largest_gap: float = math.nan

    @property
    def label(self) -> str:
        """``env_id [knobs]``, with the budget when the table has several."""
        base = variant_label(*self.key)
        return f"{base} @ {self.timesteps:,.0f} steps" if self.several_budgets else base

    def rows(self, df: pd.DataFrame) -> pd.DataFrame:
        """This variant's rows of a table (at its budget)."""
        g = df[(df.env_id == self.key[0]) & (df.env_kwargs == self.key[1])]
        return g[g.timesteps == self.timesteps] if math.isfinite(self.timesteps) else g


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
    """Fit every environment variant (at every training budget) of a results table."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # Bootstrap curves that never cross τ give all-nan slices; they are counted, not errors.
        warnings.simplefilter("ignore", RuntimeWarning)
        return _analyse(df, x, tau, precursor, n_boot, seed)


def _analyse(df: pd.DataFrame, x: str, tau: float, precursor: str, n_boot: int, seed: int) -> list[VariantAnalysis]:
    out = []
    done = df[df.status == "done"]
    # Along timesteps or compute the budget is the axis itself; along parameters it is held fixed.
    by_budget = x == "params" and done.groupby(["env_id", "env_kwargs"]).timesteps.nunique().max() > 1
    keys = ["env_id", "env_kwargs", "timesteps"] if by_budget else ["env_id", "env_kwargs"]
    for key, g in done.groupby(keys, sort=True):
        mech = g["mechanism"].dropna() if "mechanism" in g else pd.Series(dtype=object)
        va = VariantAnalysis(
            (str(key[0]), str(key[1])),
            str(g.failure_mode.iloc[0]),
            timesteps=float(key[2]) if by_budget else math.nan,
            mechanism=str(mech.iloc[0]) if len(mech) else "",
            several_budgets=bool(by_budget),
        )
        _behaviour(va, g, x, tau, n_boot, seed)
        _organisms(va, g, x, tau, n_boot, seed)
        prows = organisms_of(g, precursor, PROBE_CONDITION)
        if prows.empty:
            va.notes.append(f"precursor {precursor}: the table holds no values of it for this variant")
        else:
            try:
                va.precursor_fit = fit_trend(prows, x=x, y="value", model="auto", n_boot=n_boot, seed=seed)
            except InsufficientDataError as exc:
                va.notes.append(f"precursor {precursor}: no fit — {exc}")
        out.append(va)
    _forecasts(out, done, x, tau, precursor, n_boot, seed)
    return out


def _behaviour(va: VariantAnalysis, g: pd.DataFrame, x: str, tau: float, n_boot: int, seed: int) -> None:
    """Violation fits in both conditions; the emergence with oversight off is refused on a plateau."""
    for cond in ("off", "on"):
        rows = organisms_of(g, BEHAVIOUR, cond)
        try:
            va.fits[cond] = fit_trend(rows, x=x, model="logistic", n_boot=n_boot, seed=seed)
            va.emergences[cond] = within_data(emergence(va.fits[cond], tau), va.fits[cond])
            va.notes += [f"oversight {cond}: {n}" for n in va.fits[cond].notes]
        except InsufficientDataError as exc:
            va.notes.append(f"oversight {cond}: no fit — {exc}")
            continue
        if cond == "off":
            va.plateau = detect_plateau(rows, tau, x)
            if va.plateau.on_tau:
                va.emergences[cond] = refused(va.emergences[cond], va.plateau.reason)
        if va.emergences[cond].note:
            va.notes.append(f"oversight {cond}: {va.emergences[cond].note}")
    gap = organisms_of(g, "misalignment_gap", "gap")
    if not gap.empty:
        va.largest_gap = float(gap[gap[x] == gap[x].max()].value.mean())


def refused(e: Emergence, reason: str) -> Emergence:
    """An emergence withheld, with the reason."""
    return replace(e, log10_scale=math.nan, interval=(math.nan, math.nan), sudden=False, note=f"refused: {reason}")


def _organisms(va: VariantAnalysis, g: pd.DataFrame, x: str, tau: float, n_boot: int, seed: int) -> None:
    """Per-organism emergence, the plateau-free kinds, and how many organisms converged per rung."""
    off = organisms_of(g, BEHAVIOUR, "off")
    if off[x].nunique() >= 3:
        try:
            va.mixture = fit_mixture(off, x=x, tau=tau)
            va.notes += [f"per organism: {n}" for n in va.mixture.notes]
        except InsufficientDataError as exc:
            va.notes.append(f"per organism: no fit — {exc}")
    for kind in behaviour_kinds(g):
        rows = organisms_of(g, kind, "off")
        if rows.empty:
            continue
        try:
            fit = fit_trend(rows, x=x, model="logistic", n_boot=n_boot, seed=seed)
            va.kinds[kind] = (fit, within_data(emergence(fit, tau), fit))
        except InsufficientDataError as exc:
            va.notes.append(f"{kind}: no fit — {exc}")
    conv = organisms_of(g, "converged", TRAIN_CONDITION)
    if not conv.empty:
        va.converged = {float(k): float(v) for k, v in conv.groupby(x).value.mean().items()}
        late = [k for k, v in va.converged.items() if v < 0.8]
        if late:
            va.notes.append(
                f"not converged: at {len(late)} rung(s) ({', '.join(f'{k:,.0f}' for k in sorted(late))}) fewer than "
                "80 % of organisms had stopped improving their return over the last 20 % of training"
            )


def _forecasts(
    variants: list[VariantAnalysis], df: pd.DataFrame, x: str, tau: float, precursor: str, n_boot: int, seed: int
) -> None:
    """Backtests; a variant's precursor critical level comes only from variants of *another mechanism*.

    A variant calibrates the level only where its own emergence is one the data support (the
    ``within_data`` rule): a logistic fitted to a flat control can cross τ far beyond the
    largest rung, and the precursor's value there is no level at which behaviour flipped. A
    variant of the same mechanism is the same task in other dress, so it cannot calibrate.
    """
    levels: dict[tuple[str, str, float], tuple[float, str]] = {}
    for va in variants:
        if "off" in va.fits and va.precursor_fit is not None and not (va.plateau and va.plateau.on_tau):
            level = critical_level_of(va.fits["off"], va.precursor_fit, tau)
            if math.isfinite(level):
                levels[(*va.key, va.timesteps)] = (level, _mechanism(va))
    # Backtests refit every k, so they take fewer draws; none when the caller wants point fits only.
    bt_boot = max(20, n_boot // 4) if n_boot > 0 else 0
    chosen = _backtest_budgets(variants)
    by_key = {(*va.key, va.timesteps): va for va in variants}
    for va in variants:
        behaviour = organisms_of(va.rows(df), BEHAVIOUR, "off")
        e = va.emergences.get("off")
        if e is None or not math.isfinite(e.log10_scale):
            va.notes.append("no emergence with oversight off: nothing to forecast")
            continue
        if va.key in chosen and chosen[va.key] != va.timesteps:
            va.notes.append(
                f"backtests along {x} are made at one budget per variant ({chosen[va.key]:,.0f} steps); "
                "the sealed forecast tests across budgets"
            )
            continue
        others = {
            k: v
            for k, v in levels.items()
            if (k[0], k[1]) != va.key and v[1] != _mechanism(va) and (k[2] == va.timesteps or not va.several_budgets)
        }
        va.critical = float(np.mean([v[0] for v in others.values()])) if others else math.nan
        va.critical_sources = [
            f"{variant_label(k[0], k[1])} ({v[1] or '?'}): {v[0]:.3g}" for k, v in sorted(others.items())
        ]
        try:
            va.backtest_rows = backtest(behaviour, x, tau, n_boot=bt_boot, seed=seed)
        except InsufficientDataError as exc:
            va.notes.append(f"behaviour backtest: {exc}")
        if others:
            va.notes.append(
                f"precursor critical level {va.critical:.3g} (all organisms): the mean of "
                + ", ".join(va.critical_sources)
                + "; each backtest forecast uses only the organisms at or below its own largest rung"
            )
            va.level_sources = sources = [
                LevelSource(
                    variant_label(k[0], k[1]),
                    organisms_of(by_key[k].rows(df), BEHAVIOUR, "off"),
                    organisms_of(by_key[k].rows(df), precursor, PROBE_CONDITION),
                )
                for k in sorted(others)
            ]
            va.backtest_rows += precursor_backtest(
                behaviour,
                organisms_of(va.rows(df), precursor, PROBE_CONDITION),
                levels_from_below(sources, x, tau),
                x,
                tau,
                n_boot=bt_boot,
                seed=seed,
            )
        else:
            va.notes.append(
                f"precursor forecast: no environment of another mechanism than {va.mechanism or 'this one'} reached "
                "τ, so there is no critical level (one of the same mechanism is the same task)"
            )


def _backtest_budgets(variants: list[VariantAnalysis]) -> dict[tuple[str, str], float]:
    """Per variant of several budgets, the budget whose emergence (inside the data) lies at the largest scale.

    A backtest refits every prefix of the ladder, so running it at every budget of a grid
    multiplies the cost by the number of budgets while telling little more: the budget with
    the most rungs below an observed emergence gives the longest ladder to forecast from.
    """
    best: dict[tuple[str, str], tuple[float, float]] = {}
    for va in variants:
        e = va.emergences.get("off")
        if not va.several_budgets or e is None or not math.isfinite(e.log10_scale) or e.extrapolated:
            continue
        if va.key not in best or e.log10_scale > best[va.key][0]:
            best[va.key] = (e.log10_scale, va.timesteps)
    return {k: v[1] for k, v in best.items()}


def _mechanism(va: VariantAnalysis) -> str:
    """The variant's mechanism; a table that does not record it counts each environment as its own (noted)."""
    if va.mechanism:
        return va.mechanism
    if not any(n.startswith("mechanism not recorded") for n in va.notes):
        va.notes.append("mechanism not recorded in the table: each environment counts as a mechanism of its own")
    return f"{va.key[0]} (unrecorded)"


def fits_table(variants: list[VariantAnalysis], precursor: str) -> pd.DataFrame:
    """``fits.csv``: every fit with parameters, intervals and the derived quantities."""
    rows = []
    for va in variants:
        items = [(c, BEHAVIOUR, f, va.emergences.get(c)) for c, f in va.fits.items()]
        items += [("off", kind, f, e) for kind, (f, e) in va.kinds.items()]
        if va.precursor_fit is not None:
            items.append(("probe", precursor, va.precursor_fit, None))
        for cond, metric, fit, e in items:
            row: dict[str, Any] = {
                "env_id": va.key[0],
                "env_kwargs": va.key[1],
                "timesteps": va.timesteps,
                "failure_mode": va.failure_mode,
                "mechanism": va.mechanism,
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
                    "emergence_note": e.note,
                }
            if cond == "off" and metric == BEHAVIOUR and va.mixture is not None:
                m = va.mixture
                row |= {
                    "organism_midpoint_log10": m.midpoint if m.two_components else math.nan,
                    "organism_midpoint_lo": m.interval("midpoint")[0],
                    "organism_midpoint_hi": m.interval("midpoint")[1],
                    "organism_sharpness": m.sharpness if m.two_components else math.nan,
                    "organism_sharpness_lo": m.interval("sharpness")[0],
                    "organism_sharpness_hi": m.interval("sharpness")[1],
                    "organism_sharpness_loso_min": m.loso_sharpness[0],
                    "organism_sharpness_loso_max": m.loso_sharpness[1],
                    "organism_sudden": m.sudden,
                    "plateau": bool(va.plateau and va.plateau.found),
                    "plateau_level": va.plateau.level if va.plateau and va.plateau.found else math.nan,
                }
            rows.append(row)
    return pd.DataFrame(rows)
