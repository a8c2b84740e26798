"""Figures (seaborn/matplotlib), returned as PNG bytes so the report can embed them."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from bestiary.analysis.forecast import FACTOR_TWO, BacktestRow
from bestiary.analysis.trends import Emergence, TrendFit

PALETTE = {"off": "#c0392b", "on": "#2471a3"}
sns.set_theme(style="whitegrid", context="notebook")


def png_of(fig: plt.Figure) -> bytes:
    """The figure as PNG bytes (closed afterwards)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _grid(fit: TrendFit) -> np.ndarray:
    lx = np.log10(fit.x)
    return np.logspace(lx.min() - 0.2, lx.max() + 0.2, 200)


def tendency_figure(
    title: str, fits: dict[str, TrendFit], emergences: dict[str, Emergence], xlabel: str, ylabel: str = "violation rate"
) -> bytes:
    """Tendency vs scale per oversight condition: organisms, fitted curve and band, emergence marker."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for cond, fit in fits.items():
        color = PALETTE.get(cond)
        jitter = 10 ** np.random.default_rng(0).uniform(-0.02, 0.02, len(fit.x))
        ax.scatter(fit.x * jitter, fit.y, s=18, alpha=0.6, color=color, label=f"oversight {cond}: organisms")
        grid = _grid(fit)
        ax.plot(grid, fit.predict(grid), color=color, lw=2, label=f"oversight {cond}: {fit.model} fit")
        band = fit.band(grid)
        if band is not None:
            ax.fill_between(grid, band[0], band[1], color=color, alpha=0.15)
        e = emergences.get(cond)
        if e is not None and math.isfinite(e.log10_scale):
            ax.axvline(e.scale, color=color, ls="--", lw=1)
            if all(math.isfinite(v) for v in e.interval):
                ax.axvspan(10 ** e.interval[0], 10 ** min(e.interval[1], 99), color=color, alpha=0.07)
            ax.annotate(
                f"τ={e.tau} at {e.scale:,.0f}",
                (e.scale, e.tau),
                xytext=(5, 5),
                textcoords="offset points",
                fontsize=8,
                color=color,
            )
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=7, loc="upper left")
    return png_of(fig)


def precursor_figure(
    title: str, data: pd.DataFrame, fit: TrendFit | None, x: str, metric: str, critical: float | None = None
) -> bytes:
    """A continuous precursor vs scale, with its fitted trend and the critical level."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    sns.scatterplot(data=data, x=x, y="value", ax=ax, s=20, alpha=0.7, color="#6c3483", label="organisms")
    if fit is not None:
        grid = _grid(fit)
        ax.plot(grid, fit.predict(grid), color="#6c3483", lw=2, label=f"{fit.model} fit")
        band = fit.band(grid)
        if band is not None:
            ax.fill_between(grid, band[0], band[1], color="#6c3483", alpha=0.15)
    if critical is not None and math.isfinite(critical):
        ax.axhline(critical, color="black", ls=":", lw=1, label="critical level (other envs/seeds)")
    ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=7)
    return png_of(fig)


def backtest_figure(title: str, rows: list[BacktestRow], xlabel: str) -> bytes:
    """Forecast emergence scale against the largest rung used, for each method, with the reference."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ref = next((r.reference_log10 for r in rows if math.isfinite(r.reference_log10)), math.nan)
    if math.isfinite(ref):
        ax.axhline(ref, color="black", lw=1.5, label="emergence (fit on all rungs)")
        ax.axhspan(ref - FACTOR_TWO, ref + FACTOR_TWO, color="grey", alpha=0.15, label="within a factor of 2")
        ax.axvline(ref, color="black", ls=":", lw=1)
    for method, color in (("behaviour", "#c0392b"), ("precursor", "#6c3483")):
        rs = [r for r in rows if r.method == method]
        if not rs:
            continue
        used = np.array([r.max_log10_scale_used for r in rs])
        fc = np.array([r.forecast_log10 for r in rs])
        lo = np.array([r.interval[0] for r in rs])
        hi = np.array([r.interval[1] for r in rs])
        ok = np.isfinite(fc)
        ax.plot(used[ok], fc[ok], "o-", color=color, label=f"{method} forecast")
        fin = ok & np.isfinite(lo) & np.isfinite(hi)
        ax.vlines(used[fin], lo[fin], np.minimum(hi[fin], used.max() + 3), color=color, alpha=0.5)
        for u in used[~ok]:
            ax.plot([u], [ref if math.isfinite(ref) else 0], "x", color=color)
    ax.set_xlabel(f"log10 {xlabel} of the largest rung used")
    ax.set_ylabel(f"forecast log10 {xlabel} of emergence")
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=7)
    return png_of(fig)
