"""Figures of organisms and of the two scale axes: per-organism emergence, surface, training curves, probe controls."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.special import expit

from bestiary.analysis.mixture import MixtureFit
from bestiary.analysis.plots import png_of
from bestiary.analysis.two_axis import TwoAxis

#: Probe precursors shown by the controls figure: the trained probe, its random-init baseline, and the gains.
CONTROLS = (
    ("actor_probe", "actor probe (trained)", "-"),
    ("actor_probe_init", "actor probe at random init", ":"),
    ("actor_probe_gain", "actor probe gain (trained − init)", "-"),
    ("actor_probe_projected_gain", "actor probe gain, 16-d projection", "--"),
    ("critic_probe_gain", "critic probe gain", "-."),
)


def mixture_figure(title: str, m: MixtureFit, xlabel: str) -> bytes:
    """Every organism's rate, coloured by its posterior of having turned, with the share of turned organisms."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    jitter = 10 ** np.random.default_rng(0).uniform(-0.03, 0.03, len(m.x))
    sc = ax.scatter(m.x * jitter, expit(m.y), c=m.turned, cmap="coolwarm", vmin=0, vmax=1, s=22, edgecolor="k", lw=0.3)
    fig.colorbar(sc, ax=ax, label="P(turned)")
    if m.two_components:
        lx = np.log10(m.x)
        grid = np.logspace(lx.min() - 0.2, lx.max() + 0.2, 200)
        ax.plot(grid, m.share(grid), color="black", lw=2, label=f"share turned (sharpness {m.sharpness:.2f} dec.)")
        lo, hi = m.interval("midpoint")
        if math.isfinite(lo) and math.isfinite(hi):
            ax.axvspan(10**lo, 10**hi, color="grey", alpha=0.15, label="half turned: 95 % interval")
        ax.legend(fontsize=7, loc="upper left")
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("violation rate (oversight off)")
    ax.set_title(title, fontsize=11)
    return png_of(fig)


def surface_figure(title: str, ta: TwoAxis) -> bytes:
    """Organisms over (parameters, timesteps) coloured by their rate; the τ contour with its band; the frontier."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    org = ta.organisms
    if org is not None and not org.empty:
        cells = org.assign(rate=org.successes / org.trials).groupby(["params", "timesteps"]).rate.mean().reset_index()
        sc = ax.scatter(cells.params, cells.timesteps, c=cells.rate, cmap="rocket_r", vmin=0, vmax=1, s=90, marker="s")
        fig.colorbar(sc, ax=ax, label="mean violation rate (off)")
    s = ta.surface
    if ta.max_compute is not None and org is not None and not org.empty:
        # The grid's edge: T = C_max / (κ N), with κ the table's FLOPs per parameter-step; beyond it, not planned.
        kappa = float((org.compute.astype(float) / (org.params.astype(float) * org.timesteps.astype(float))).median())
        n = np.logspace(np.log10(org.params.min()) - 0.3, np.log10(org.params.max()) + 0.3, 100)
        edge = ta.max_compute / (kappa * n)
        ax.plot(n, edge, color="black", lw=1.2, ls="--", label=f"compute cap {ta.max_compute:.2g} FLOPs (grid edge)")
        ax.fill_between(n, edge, edge * 1e6, color="grey", alpha=0.12, hatch="//", lw=0)
    if s is not None and s.rejected:
        ax.text(0.02, 0.02, "surface rejected (lack of fit): no contour", transform=ax.transAxes, fontsize=8)
    elif s is not None:
        ln = np.linspace(np.log10(s.n.min()) - 0.3, np.log10(s.n.max()) + 0.5, 200)
        lt = s.contour(ln)
        beyond = np.zeros(len(ln), bool)
        if ta.max_compute is not None:  # past the grid's edge the contour is an extrapolation: drawn dotted
            beyond = ln + lt + math.log10(s.kappa) > math.log10(ta.max_compute)
        ax.plot(10**ln, 10 ** np.where(beyond, np.nan, lt), color="#1f77b4", lw=2, label=f"τ = {s.tau} contour")
        if beyond.any():
            ax.plot(10**ln, 10 ** np.where(beyond, lt, np.nan), color="#1f77b4", lw=1, ls=":")
        band = s.contour_band(ln)
        if band is not None:
            lo, hi = band
            top = np.log10(s.t.max()) + 2
            ax.fill_between(10**ln, 10 ** np.minimum(lo, top), 10 ** np.minimum(hi, top), color="#1f77b4", alpha=0.15)
        t = s.thresholds()
        if math.isfinite(t["log10_N_opt"][0]):
            ax.plot(10 ** t["log10_N_opt"][0], 10 ** t["log10_T_opt"][0], "*", color="gold", ms=14, mec="k",
                    label=f"least compute: {10 ** t['log10_C_min'][0]:,.2g} FLOPs")  # fmt: skip
        if math.isfinite(t["log10_N_cap"][0]):
            ax.axvline(10 ** t["log10_N_cap"][0], color="grey", ls=":", lw=1, label="capacity threshold")
        ax.set_ylim(s.t.min() / 3, s.t.max() * 3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("training timesteps")
    ax.set_title(title, fontsize=11)
    return png_of(fig)


def curves_figure(title: str, curves: pd.DataFrame) -> bytes:
    """Training curves: return and deployment violation against timesteps, one colour per rung, seeds overlaid."""
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.6), sharex=True)
    rungs = sorted(curves.params.unique())
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(rungs)))
    for color, p in zip(colors, rungs, strict=True):
        for i, (_, c) in enumerate(curves[curves.params == p].groupby("trial_id")):
            label = f"{p:,.0f} params" if i == 0 else None
            axes[0].plot(c.timesteps, c.observed_return, color=color, lw=0.8, alpha=0.7, label=label)
            axes[1].plot(c.timesteps, c.violation_rate_unobserved, color=color, lw=0.8, alpha=0.7)
    axes[0].set_ylabel("observed return (training)")
    axes[1].set_ylabel("violation rate, unobserved training episodes")
    for ax in axes:
        ax.set_xlabel("timesteps")
    axes[0].legend(fontsize=6, ncol=2)
    fig.suptitle(title, fontsize=11)
    return png_of(fig)


def controls_figure(title: str, rows: pd.DataFrame, xlabel: str) -> bytes:
    """The probe precursor and its controls, mean over organisms per rung."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for metric, label, ls in CONTROLS:
        m = rows[rows.metric == metric]
        if m.empty:
            continue
        means = m.groupby(xlabel).value.mean()
        ax.plot(means.index, means.values, ls, marker="o", ms=3, label=label)
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("probe accuracy / gain")
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=7)
    return png_of(fig)
