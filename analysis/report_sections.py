"""The report's sections beyond the trend fits: organisms one by one, the two axes, controls, and scored forecasts."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bestiary.analysis import plots_scale
from bestiary.analysis.figure_jobs import FigureJob
from bestiary.analysis.mixture import rise_together, sudden_verdict
from bestiary.analysis.pipeline import VariantAnalysis
from bestiary.analysis.prereg import rule_scores, rule_table, verdict, verdict_text
from bestiary.analysis.schema import PROBE_CONDITION
from bestiary.analysis.seals import Seal, lead_table, seal_head
from bestiary.analysis.two_axis import TwoAxis, thresholds_rows


def img(png: bytes, alt: str) -> str:
    """An embedded PNG."""
    import base64

    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def table_html(rows: list[dict[str, Any]]) -> str:
    """An HTML table of dict rows (escaped)."""
    if not rows:
        return "<p>(none)</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _interval(lo: float, hi: float, fmt: str = "{:,.0f}", power: bool = True) -> str:
    if math.isnan(lo) or math.isnan(hi):
        return ""

    def f(v: float) -> str:
        if not math.isfinite(v):
            return "−∞" if v < 0 else "∞"
        return fmt.format(10**v) if power else f"{v:.2f}"

    return f" [{f(lo)}, {f(hi)}]"


def forecast_summary(scores: pd.DataFrame) -> list[dict[str, str]]:
    """Per method: every counted prediction, its outcomes, and the median error with censored errors at their bound."""
    real = scores[(scores.kind == "forecast") & (scores.outcome != "abstained")]
    out = []
    for method, g in real.groupby("method", sort=True):
        n_abstained = int(((scores.method == method) & (scores.outcome == "abstained")).sum())
        leads = g.lead_decades[(g.outcome == "hit") & (g.lead_decades > 0)]
        out.append(
            {
                "method": str(method),
                "predictions scored": str(len(g)),
                "hits (×2)": str(int((g.outcome == "hit").sum())),
                "misses": str(int((g.outcome == "miss").sum())),
                "false alarms": str(int((g.outcome == "false alarm").sum())),
                "missed emergences": str(int((g.outcome == "missed emergence").sum())),
                "median error (dec.)": _error_text(float(g.error_decades.median()), bool(g.censored.any())),
                "interval covered": f"{g.covered.mean():.0%}",
                "median lead of hits (dec.)": f"{leads.median():.2f}" if len(leads) else "—",
                "abstained": str(n_abstained),
            }
        )
    return out


def _error_text(error: float, censored: bool) -> str:
    return "—" if math.isnan(error) else ("≥ " if censored else "") + f"{error:.2f}"


def forecast_detail_rows(scores: pd.DataFrame) -> list[dict[str, str]]:
    """Every counted prediction as a row of text: forecast, bracketed truth, outcome, error (≥ when censored)."""
    return [
        {
            "environment": r.env_id,
            "axis": r.axis,
            "at": r.at,
            "method": r.method,
            "forecast": emergence_text(r.log10_estimate, (r.interval_low, r.interval_high), fmt="{:,.3g}"),
            "truth": (
                emergence_text(r.truth_log10, (math.nan, math.nan), fmt="{:,.3g}")
                if not math.isnan(r.truth_log10)
                else f"not reached up to {10**r.largest_trained_log10:,.3g}"
            ),
            "outcome": r.outcome,
            "error (dec.)": _error_text(r.error_decades, r.censored),
            "covered": "yes" if r.covered else "no",
            "lead (dec.)": "—" if math.isnan(r.lead_decades) else f"{r.lead_decades:.2f}",
        }
        for r in scores[scores.kind == "forecast"].itertuples()
    ]


def emergence_text(log10_scale: float, interval: tuple[float, float], fmt: str = "{:,.0f}") -> str:
    """An emergence scale with its interval; −∞ (already at τ at the smallest rung) and nan (never) in words."""
    if log10_scale == -math.inf:
        return "below the data (≥ τ at the smallest rung)"
    if not math.isfinite(log10_scale):
        return "not reached" + (
            f" (bootstrap draws: {_interval(*interval, fmt=fmt).strip()})" if not math.isnan(interval[0]) else ""
        )
    return fmt.format(10**log10_scale) + _interval(*interval, fmt=fmt) + outside_note(log10_scale, interval)


def outside_note(log10_scale: float, interval: tuple[float, float]) -> str:
    """A warning when an estimate lies outside its own bootstrap interval (the bootstrap says the fit is biased)."""
    lo, hi = interval
    if math.isnan(lo) or math.isnan(hi) or lo <= log10_scale <= hi:
        return ""
    return " (estimate outside its bootstrap interval: biased here)"


def organism_cells(va: VariantAnalysis) -> dict[str, str]:
    """The summary's per-organism columns: where half the organisms turned, how sharply, and whether suddenly."""
    m = va.mixture
    sudden, why_sudden = sudden_verdict(m, va.emergences.get("off"))
    if sudden is None:
        verdict = f"— ({why_sudden})" if why_sudden else "—"
    else:
        verdict = ("yes" if sudden else "no") + f" ({why_sudden})"
    if m is None or not m.emerged:
        if m is None:
            why = "no fit"
        elif m.two_components:
            why = "not within the data"
        elif rise_together(m):
            why = "organisms rise together"
        elif any("one component" in n for n in m.notes):
            why = "one group of organisms"
        else:
            why = "no organism turned"
        return {"half of organisms turned at": why, "organism sharpness (dec.)": "—", "sudden": verdict}
    lo, hi = m.interval("midpoint")
    slo, shi = m.interval("sharpness")
    return {
        "half of organisms turned at": f"{10**m.midpoint:,.0f}{_interval(lo, hi)}",
        "organism sharpness (dec.)": f"{m.sharpness:.2f}{_interval(slo, shi, power=False)}",
        # Suddenness is a property of organisms, not of their mean: a pooled curve over organisms that
        # turn at their own scales looks sudden (analysis.mixture.sudden_verdict).
        "sudden": verdict,
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
            "emergence": emergence_text(e.log10_scale, e.interval),
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
            "emergence in compute (FLOPs)": emergence_text(e.log10_scale, e.interval, fmt="{:,.3g}"),
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


def forecast_section(seals: Sequence[Seal], lead_figure: bytes | None, leads: pd.DataFrame) -> str:
    """Every sealed forecast, scored against the organisms it did not use; with several, error against lead."""
    if not seals:
        return ""
    parts = [
        "<p>Every prediction of a slice that holds an organism the seal did not use counts: a forecast of emergence "
        "inside the grid where none came is a false alarm, a forecast of “not reached” where it came a missed "
        "emergence, each with the least error it can have (≥: the distance to the largest scale trained). "
        "The truth is the emergence fitted on every organism of the slice, and only where its rungs bracket it.</p>"
    ]
    for s in seals:
        parts.append(f"<h3>{html.escape(s.label)}</h3>" + seal_head(s))
        if s.scores is None:
            parts.append(f"<p>Not scored: {html.escape(s.error or 'no scores')}</p>")
            continue
        kinds = ", ".join(f"{k}: {v}" for k, v in s.scores.kind.value_counts().sort_index().items())
        parts.append(table_html(forecast_summary(s.scores)) + f"<p>Predictions by kind: {html.escape(kinds)}.</p>")
        parts.append(f"<details><summary>every prediction of {html.escape(s.label)}</summary>"
                     + table_html(forecast_detail_rows(s.scores)) + "</details>")  # fmt: skip
    if len(seals) > 1 or lead_figure is not None:
        parts.append(
            "<h3>Forecast error against lead</h3><p>Each scored prediction whose truth lies within the data: its "
            "error (forecast − truth, decades, bars: its interval) against its lead — the decades of training "
            "compute from the largest the seal saw of that environment to where the behaviour emerged. The band is "
            "×2.</p>" + (img(lead_figure, "forecast error against lead") if lead_figure else "<p>(nothing to plot)</p>")
            + table_html(lead_table(leads))
        )  # fmt: skip
        rule = rule_scores(seals)
        if not rule.empty:
            parts.append(f"<h3>The pre-registered score</h3><p>{html.escape(verdict_text(verdict(rule)))}</p>"
                         + table_html(rule_table(rule)))  # fmt: skip
    return "<section><h2>Sealed forecasts, scored</h2>" + "".join(parts) + "</section>"
