"""The report's sections beyond the trend fits: organisms one by one, the two axes, controls, and scored forecasts."""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from bestiary.analysis import plots_scale
from bestiary.analysis.figure_jobs import FigureJob
from bestiary.analysis.pipeline import VariantAnalysis
from bestiary.analysis.schema import PROBE_CONDITION
from bestiary.analysis.two_axis import TwoAxis, thresholds_rows


def img(png: bytes, alt: str) -> str:
    """An embedded PNG."""
    import base64

    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"


def table_html(rows: list[dict[str, Any]]) -> str:
    """An HTML table of dict rows (escaped)."""
    if not rows:
        return "<p>(none)</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _interval(lo: float, hi: float, fmt: str = "{:,.0f}", power: bool = True) -> str:
    if not (math.isfinite(lo) or math.isfinite(hi)):
        return ""
    f = (lambda v: "∞" if not math.isfinite(v) else fmt.format(10**v)) if power else (lambda v: f"{v:.2f}")
    return f" [{f(lo)}, {f(hi)}]"


def organism_cells(va: VariantAnalysis) -> dict[str, str]:
    """The summary's per-organism columns: where half the organisms turned, how sharply, and whether robustly."""
    m = va.mixture
    if m is None or not m.emerged:
        if m is None:
            why = "no fit"
        elif m.two_components:
            why = "not within the data"
        elif any("rise together" in n for n in m.notes):
            why = "organisms rise together"
        elif any("one component" in n for n in m.notes):
            why = "one group of organisms"
        else:
            why = "no organism turned"
        return {
            "half of organisms turned at": why,
            "organism sharpness (dec.)": "—",
            "sudden, every seed left out": "—",
        }
    lo, hi = m.interval("midpoint")
    slo, shi = m.interval("sharpness")
    loso = m.loso_sharpness
    return {
        "half of organisms turned at": f"{10**m.midpoint:,.0f}{_interval(lo, hi)}",
        "organism sharpness (dec.)": f"{m.sharpness:.2f}{_interval(slo, shi, power=False)}",
        "sudden, every seed left out": (
            ("yes" if m.sudden else "no") + (f" (LOSO {loso[0]:.2f}–{loso[1]:.2f})" if math.isfinite(loso[0]) else "")
        ),
    }


def organism_section(va: VariantAnalysis, df: pd.DataFrame, curves: pd.DataFrame | None, x: str) -> str:
    """Per-organism emergence, the plateau check, the behaviour kinds, convergence, curves and probe controls."""
    parts = []
    if va.mixture is not None:
        va.figures["organisms"] = FigureJob(
            plots_scale.mixture_figure, (f"{va.label}: organism by organism", va.mixture, x)
        )
    rows = va.rows(df)
    controls = rows[(rows.condition == PROBE_CONDITION) & (rows.status == "done")]
    if controls.metric.isin([c[0] for c in plots_scale.CONTROLS]).any():
        va.figures["controls"] = FigureJob(
            plots_scale.controls_figure, (f"{va.label}: probe and its controls", controls, x)
        )
    if curves is not None and not curves.empty:
        mine = curves[(curves.env_id == va.key[0]) & (curves.env_kwargs == va.key[1])]
        if math.isfinite(va.timesteps):
            mine = mine[mine.timesteps_total == va.timesteps]
        if not mine.empty:
            va.figures["curves"] = FigureJob(plots_scale.curves_figure, (f"{va.label}: training curves", mine))
    if va.plateau is not None and va.plateau.found:
        parts.append(f"<p><b>Plateau:</b> {html.escape(va.plateau.reason)}</p>")
    kinds = [
        {
            "behaviour kind (off)": k,
            "emergence": (
                f"{10**e.log10_scale:,.0f}{_interval(*e.interval)}" if math.isfinite(e.log10_scale) else "not reached"
            ),
            "sharpness (dec.)": f"{e.sharpness_decades:.2f}" if math.isfinite(e.log10_scale) else "—",
            "rate at largest rung": f"{fit.y[fit.x == fit.x.max()].mean():.2f}",
        }
        for k, (fit, e) in va.kinds.items()
    ]
    if kinds:
        parts.append("<h3>Plateau-free behaviour kinds</h3>" + table_html(kinds))
    if va.converged:
        conv = [{"rung": f"{k:,.0f}", "converged organisms": f"{v:.0%}"} for k, v in sorted(va.converged.items())]
        parts.append("<h3>Convergence (return no longer rising over the last 20 % of training)</h3>" + table_html(conv))
    if va.critical_sources:
        parts.append("<p>Critical level from: " + html.escape("; ".join(va.critical_sources)) + "</p>")
    return "".join(parts)


def two_axis_section(analyses: list[TwoAxis], surfaces: list[bytes]) -> str:
    """Emergence over parameters × training: thresholds, collapse tests, surface figures (drawn), compute slices."""
    if not analyses:
        return ""
    figs = "".join(img(png, ta.label) for png, ta in zip(surfaces, analyses, strict=True))
    slices = [
        {
            "environment": ta.label,
            "params": f"{n:,.0f}",
            "emergence in compute (FLOPs)": (
                f"{10**e.log10_scale:,.3g}{_interval(*e.interval, fmt='{:,.3g}')}"
                if math.isfinite(e.log10_scale)
                else "not reached"
            ),
        }
        for ta in analyses
        for n, e in sorted(ta.compute_slices.items())
    ]
    notes = "".join(f"<li>{html.escape(ta.label)}: {html.escape(n)}</li>" for ta in analyses for n in ta.notes)
    return (
        "<section><h2>Two scale axes: parameters and training</h2>"
        "<p>The rate surface p(N, T) = f + (c − f) / (1 + (N₀/N)^α + (T₀/T)^β), binomial maximum likelihood, "
        "bootstrap over organisms within each (N, T) cell; 90 % intervals. The capacity threshold is the emergence "
        "in parameters at unlimited training; the compute frontier the least training compute at which the "
        "behaviour emerges. Collapse: quasi-likelihood F test of a logistic in a·log N + (1 − a)·log C with a = 0 "
        "(compute alone) or a = 1 (parameters alone); 'yes' means the data cannot reject it at 5 %.</p>"
        + table_html(thresholds_rows(analyses))
        + f"<div class='figs'>{figs}</div><h3>Emergence in compute at fixed parameters</h3>"
        + table_html(slices)
        + (f"<h3>Notes</h3><ul>{notes}</ul>" if notes else "")
        + "</section>"
    )


def forecast_section(scores: pd.DataFrame | None, doc: dict[str, Any] | None, error: str | None) -> str:
    """The sealed forecast, scored against the organisms it did not use."""
    if doc is None and error is None:
        return ""
    if error is not None:
        return f"<section><h2>Sealed forecast</h2><p>Not scored: {html.escape(error)}</p></section>"
    assert doc is not None and scores is not None
    ctx = doc.get("context") or {}
    head = (
        f"<p>Sealed {html.escape(str(doc.get('created')))} from {len(doc.get('organisms', {}))} organisms "
        f"(sha256 {html.escape(str(doc.get('sha256', ''))[:16])}…)"
        + (
            f"; organisms below {html.escape(str(ctx.get('sealed_below')))} first, "
            f"{ctx.get('organisms_beyond_already_trained', '?')} of the "
            f"{ctx.get('organisms_beyond_planned', '?')} others already trained when it was sealed"
            if ctx
            else ""
        )
        + ". Scored against the emergence fitted on every organism now present; a prediction whose answer lies "
        "within the scales it saw is a nowcast and gives no lead.</p>"
    )
    real = scores[scores.kind == "forecast"]
    by = (
        real.groupby("method")
        .agg(
            forecasts=("error_decades", "size"),
            median_error=("error_decades", "median"),
            within_x2=("within_factor_two", "mean"),
            covered=("covered", "mean"),
            median_lead=("lead_decades", "median"),
        )
        .reset_index()
    )
    summary = [
        {
            "method": r.method,
            "forecasts": r.forecasts,
            "median error (dec.)": f"{r.median_error:.2f}",
            "within ×2": f"{r.within_x2:.0%}",
            "interval covered": f"{r.covered:.0%}",
            "median lead (dec.)": f"{r.median_lead:.2f}",
        }
        for r in by.itertuples()
    ]
    detail = [
        {
            "environment": r.env_id,
            "axis": r.axis,
            "at": r.at,
            "method": r.method,
            "forecast": f"{10**r.log10_estimate:,.3g}",
            "truth": f"{10**r.truth_log10:,.3g}",
            "error (dec.)": f"{r.error_decades:.2f}",
            "covered": "yes" if r.covered else "no",
            "lead (dec.)": f"{r.lead_decades:.2f}",
        }
        for r in real.itertuples()
    ]
    kinds = ", ".join(f"{k}: {v}" for k, v in scores.kind.value_counts().sort_index().items())
    return (
        "<section><h2>Sealed forecast, scored</h2>"
        + head
        + table_html(summary)
        + f"<p>Predictions by kind: {html.escape(kinds)}.</p>"
        + table_html(detail)
        + "</section>"
    )
