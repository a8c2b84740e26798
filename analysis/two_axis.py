"""The two-axis analysis: per environment variant, the surface, its thresholds and the collapse tests.

For every variant trained at several budgets (≥ 3 parameter rungs × ≥ 2 timestep rungs):
the emergence surface and its contour (:mod:`~bestiary.analysis.surface`), the capacity
threshold, the compute frontier, the collapse tests, and emergence along compute at each
parameter rung with ≥ 3 budgets. Emergence along parameters at each budget is in
:func:`~bestiary.analysis.pipeline.analyse` (one analysis per budget).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bestiary.analysis.collapse import Collapse, collapse_tests
from bestiary.analysis.pipeline import BEHAVIOUR, organisms_of
from bestiary.analysis.surface import Surface, fit_surface
from bestiary.analysis.table import variant_label
from bestiary.analysis.trends import Emergence, InsufficientDataError, emergence, fit_trend, within_data


@dataclass
class TwoAxis:
    """One variant's emergence over (parameters, timesteps)."""

    key: tuple[str, str]
    surface: Surface | None = None
    collapse: list[Collapse] = field(default_factory=list)
    compute_slices: dict[float, Emergence] = field(default_factory=dict)
    organisms: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    #: The sweep's compute cap (FLOPs): cells above it were not planned — the grid's edge, not missing data.
    max_compute: float | None = None

    @property
    def label(self) -> str:
        """``env_id [knobs]``."""
        return variant_label(*self.key)


def analyse_two_axis(df: pd.DataFrame, tau: float = 0.5, n_boot: int = 200, seed: int = 0) -> list[TwoAxis]:
    """The two-axis analysis of every variant trained at ≥ 2 budgets."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        out = []
        for (env_id, kw), g in df[df.status == "done"].groupby(["env_id", "env_kwargs"], sort=True):
            if g.timesteps.nunique() < 2:
                continue
            ta = TwoAxis((str(env_id), str(kw)))
            off = organisms_of(g, BEHAVIOUR, "off")
            ta.organisms = off
            ta.max_compute = compute_cap(g)
            if ta.max_compute is not None:
                ta.notes.append(
                    f"the grid is capped at {ta.max_compute:.3g} FLOPs of training compute: cells above the cap were "
                    "not planned (the grid's edge, not missing data), and nothing beyond it is claimed"
                )
            try:
                ta.surface = fit_surface(off, tau, n_boot=n_boot, seed=seed)
                ta.notes += ta.surface.notes
                if ta.surface.rejected:
                    ta.notes.append(ta.surface.rejected)
                cells = off.groupby(["params", "timesteps"]).value.mean()
                if cells.max() >= tau / 2:
                    ta.collapse = collapse_tests(off)
                else:  # a test of what emergence depends on needs an emergence in the data
                    ta.notes.append(f"no collapse test: no cell's mean rate reaches τ/2 = {tau / 2:g}")
            except InsufficientDataError as exc:
                ta.notes.append(f"no surface: {exc}")
            if "compute" in off and off.compute.notna().all():
                for n, at_n in off.groupby("params"):
                    if at_n.timesteps.nunique() < 3:
                        continue
                    try:
                        fit = fit_trend(at_n, x="compute", model="logistic", n_boot=n_boot, seed=seed)
                        ta.compute_slices[float(n)] = within_data(emergence(fit, tau), fit)
                    except InsufficientDataError as exc:
                        ta.notes.append(f"compute at {n:,.0f} params: {exc}")
            out.append(ta)
        return out


def compute_cap(df: pd.DataFrame) -> float | None:
    """The sweep's compute cap recorded in a table (None when it has none)."""
    if "max_compute" not in df:
        return None
    caps = pd.to_numeric(df["max_compute"], errors="coerce").dropna()
    return float(caps.max()) if not caps.empty else None


def thresholds_rows(analyses: list[TwoAxis]) -> list[dict[str, str]]:
    """The report's table of thresholds and collapse tests, one row per variant."""

    def fmt(s: Surface, name: str) -> str:
        v = float(s.thresholds()[name][0])
        lo, hi = s.interval(name)
        if not math.isfinite(v):
            return "not reached"
        if s.beyond_grid(name, v):
            return "beyond the grid (not supported by the scales trained)"
        iv = f" [{10**lo:,.3g}, {10**hi:,.3g}]" if math.isfinite(lo) else ""
        return f"{10**v:,.3g}{iv}".replace("[inf", "[∞").replace("inf]", "∞]")

    rows = []
    for ta in analyses:
        s = ta.surface
        row = {"environment": ta.label}
        if s is None:
            row["capacity threshold (params, T→∞)"] = "no surface"
            rows.append(row)
            continue
        if s.rejected:
            withheld = "withheld: the surface does not fit (see notes)"
            row |= {
                "capacity threshold (params, T→∞)": withheld,
                "least training (steps, N→∞)": withheld,
                "compute frontier (FLOPs)": withheld,
                "at params × steps": "—",
            }
        else:
            t = s.thresholds()
            opt_ok = math.isfinite(t["log10_N_opt"][0]) and not s.beyond_grid("log10_N_opt", float(t["log10_N_opt"][0]))
            row |= {
                "capacity threshold (params, T→∞)": fmt(s, "log10_N_cap"),
                "least training (steps, N→∞)": fmt(s, "log10_T_min"),
                "compute frontier (FLOPs)": fmt(s, "log10_C_min"),
                "at params × steps": (
                    f"{10 ** t['log10_N_opt'][0]:,.3g} × {10 ** t['log10_T_opt'][0]:,.3g}" if opt_ok else "—"
                ),
            }
        if not ta.collapse:
            row |= {"collapse onto compute": "— (no emergence)", "collapse onto params": "— (no emergence)"}
        for c in ta.collapse:
            # The run-level bootstrap cannot give a p-value below about 2/(draws + 1): say "≤" there.
            p_text = "p ≤ 0.01" if c.p_value <= 0.01 else f"p = {c.p_value:.2g}"
            row[f"collapse onto {c.onto}"] = (
                f"{'yes' if c.collapses else 'no'} (F = {c.f_stat:.1f}, {p_text}; a = {c.a:.2f})"
            )
        rows.append(row)
    return rows
