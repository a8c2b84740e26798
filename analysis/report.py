"""The report: a view of the analysis — one HTML file, ``summary.md``, ``fits.csv`` and ``overview.png``.

``build_report(table, out)`` runs :func:`bestiary.analysis.pipeline.analyse` and renders
it: ``out`` (self-contained HTML, figures embedded), ``fits.csv``, ``summary.md`` and
``overview.png`` beside it. It works on partial results: missing, failed and unfittable
parts are listed, never silently dropped or invented.
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bestiary.analysis import plots, plots_scale
from bestiary.analysis.detection import audit_analysis, detectability_figure, detection_section
from bestiary.analysis.figure_jobs import FigureJob, render
from bestiary.analysis.forecast import BacktestRow, lead_time
from bestiary.analysis.pipeline import DEFAULT_PRECURSOR, VariantAnalysis, analyse, fits_table, organisms_of
from bestiary.analysis.prereg import rule_scores, rule_table, verdict, verdict_text
from bestiary.analysis.report_sections import (
    forecast_section,
    forecast_summary,
    img,
    organism_cells,
    organism_section,
    outside_note,
    table_html,
    two_axis_section,
)
from bestiary.analysis.schema import PROBE_CONDITION
from bestiary.analysis.seals import Seal, as_seals, error_lead_figure, lead_rows, lead_table, score_seals
from bestiary.analysis.table import CONTRACT_COLUMNS
from bestiary.analysis.trends import Emergence
from bestiary.analysis.two_axis import analyse_two_axis, compute_cap, thresholds_rows

#: The smallest design the calibration benchmark (benchmarks/calibration.py) checked the estimates at.
CALIBRATED_SEEDS, CALIBRATED_RUNGS = 8, 7


def design_notes(table: pd.DataFrame) -> list[str]:
    """Warnings for a table whose design is smaller than the one the estimates were calibrated at."""
    beh = table[(table.metric == "violation_rate") & (table.condition == "off") & (table.status == "done")]
    if beh.empty:
        return []
    keys = ["env_id", "env_kwargs", "timesteps"]
    seeds = int(beh.groupby([*keys, "params"]).size().min())
    rungs = int(beh.groupby(keys).params.nunique().min())
    notes = []
    cap = compute_cap(table)
    if cap is not None:
        notes.append(
            f"The grid is capped at {cap:.3g} FLOPs of training compute (scale.max_compute): larger networks were "
            "trained for fewer steps, so the largest budgets hold fewer rungs — by design, not by failure."
        )
    if seeds < CALIBRATED_SEEDS or rungs < CALIBRATED_RUNGS:
        notes.append(
            f"Design outside the calibrated range: as few as {seeds} organisms per rung and {rungs} rungs per "
            f"variant, where the estimates were checked on known truth at {CALIBRATED_SEEDS} seeds × "
            f"{CALIBRATED_RUNGS} rungs (docs/analysis.md, Calibration): intervals may cover less than they say, and a "
            "danger level on a one-rung shelf (partial solutions) cannot be told from the rise, so it is not refused."
        )
    return notes


def _fmt_scale(e: Emergence | None) -> str:
    if e is not None and e.note.startswith("refused"):
        return "refused: τ on a plateau"
    if e is not None and e.log10_scale == -math.inf:
        return "below the data (≥ τ at the smallest rung)"
    if e is None or not math.isfinite(e.log10_scale):
        return "not reached" if e is not None else "no fit"
    lo, hi = e.interval
    ci = f" [{_sci(lo)}, {_sci(hi)}]" if not (math.isnan(lo) or math.isnan(hi)) else ""
    return (
        f"{10**e.log10_scale:,.0f}{ci}"
        + (" (extrapolated)" if e.extrapolated else "")
        + outside_note(e.log10_scale, e.interval)
    )


def _sci(log10v: float) -> str:
    if not math.isfinite(log10v):
        return "−∞" if log10v < 0 else "∞"
    return f"{10**log10v:,.0f}"


def _lead(rows: list[BacktestRow], method: str) -> str:
    rs = [r for r in rows if r.method == method]
    if not rs:
        return "—"
    lt = lead_time(rs)
    forecasts = [r for r in rs if r.kind == "forecast"]
    best = min((r.error_decades for r in forecasts), default=math.nan)
    if math.isfinite(lt):
        held = lead_time(rs, stable=True)
        if held == lt:
            return f"{lt:.2f} decades, held at every later rung (best error {best:.2f})"
        after = f"held only from {held:.2f}" if math.isfinite(held) else "none held to the jump"
        return f"{lt:.2f} decades, later forecasts missed; {after} (best error {best:.2f})"
    return "never within ×2 before emergence" + (f" (best error {best:.2f} dec.)" if math.isfinite(best) else "")


def summary_rows(variants: list[VariantAnalysis]) -> list[dict[str, str]]:
    """The summary table, one row per environment variant."""
    rows = []
    for va in variants:
        e = va.emergences.get("off")
        on = va.emergences.get("on")
        sharp = (
            "—"
            if e is None or not math.isfinite(e.sharpness_decades)
            else (
                f"{e.sharpness_decades:.2f}"
                + (
                    f" [{e.sharpness_interval[0]:.2f}, {e.sharpness_interval[1]:.2f}]"
                    if math.isfinite(e.sharpness_interval[0])
                    else ""
                )
            )
        )
        rows.append(
            {
                "environment": va.label,
                "failure mode": va.failure_mode,
                "emergence (off)": _fmt_scale(e),
                "sharpness (decades)": sharp if e is not None and math.isfinite(e.log10_scale) else "—",
                "oversight on": _fmt_scale(on),
                **organism_cells(va),
                "gap at largest rung": f"{va.largest_gap:+.2f}" if math.isfinite(va.largest_gap) else "—",
                "behaviour forecast lead": _lead(va.backtest_rows, "behaviour"),
                "precursor forecast lead": _lead(va.backtest_rows, "precursor"),
            }
        )
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of one table (dicts with the same keys) as a markdown table; "(none)" when empty."""
    if not rows:
        return "(none)\n"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]).replace("|", "/") for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def overview_figure(variants: list[VariantAnalysis], x: str) -> bytes:
    """Small multiples: violation rate (off and on) vs scale for every variant."""
    n = max(len(variants), 1)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, va in zip(axes.flat, variants, strict=False):
        for cond, fit in va.fits.items():
            color = plots.PALETTE[cond]
            ax.scatter(fit.x, fit.y, s=10, alpha=0.5, color=color)
            grid = np.logspace(np.log10(fit.x.min()) - 0.1, np.log10(fit.x.max()) + 0.1, 100)
            ax.plot(grid, fit.predict(grid), color=color, lw=2, label=f"oversight {cond}")
            e = va.emergences.get(cond)
            if e is not None and math.isfinite(e.log10_scale) and not e.extrapolated:
                ax.axvline(e.scale, color=color, ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(va.label, fontsize=8)
        ax.set_xlabel(x, fontsize=8)
        ax.set_ylabel("violation rate", fontsize=8)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(variants) :]:
        ax.axis("off")
    fig.tight_layout()
    return plots.png_of(fig)


def build_report(
    table: pd.DataFrame,
    out: Path | str,
    *,
    x: str = "params",
    tau: float = 0.5,
    precursor: str = DEFAULT_PRECURSOR,
    n_boot: int = 200,
    provenance: dict[str, Any] | None = None,
    title: str = "Bestiary scaling report",
    curves: pd.DataFrame | None = None,
    forecast: dict[str, Any] | Sequence[Seal] | None = None,
    detection: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write the report and its companions.

    Args:
        table: The results table (Contract 3).
        out: Path of the HTML report; ``fits.csv``, ``summary.md`` and ``overview.png`` go beside it.
        x: Scale column: ``params``, ``timesteps`` or ``compute`` (6 × params × timesteps).
        tau: Danger level of the emergence scale.
        precursor: Precursor metric for the precursor forecast.
        n_boot: Bootstrap draws per fit.
        provenance: Sweep spec text, package versions, per-organism sandbox status.
        title: Report title.
        curves: Training curves (``bestiary collect``'s ``-curves.parquet``), for the curves figures.
        forecast: Sealed forecasts to score against the table: one (``forecast.json``'s content) or several
            (:class:`~bestiary.analysis.seals.Seal`, e.g. a study's seals in order, with their provenance notes).
        detection: An audit's table (``bestiary audit``): its detectability section is added.

    Returns:
        Paths of the files written.

    Raises:
        ValueError: If the table lacks Contract 3 columns.
    """
    missing = [c for c in CONTRACT_COLUMNS if c not in table]
    if missing:
        raise ValueError(f"the results table lacks column(s) {', '.join(missing)} (Contract 3)")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # quantiles of bootstrap curves that never cross
        return _build(table, Path(out), x, tau, precursor, n_boot, provenance or {}, title, curves, forecast, detection)


def _build(
    table: pd.DataFrame,
    out: Path,
    x: str,
    tau: float,
    precursor: str,
    n_boot: int,
    prov: dict[str, Any],
    title: str,
    curves: pd.DataFrame | None,
    forecast: dict[str, Any] | Sequence[Seal] | None,
    detection: pd.DataFrame | None = None,
) -> dict[str, Path]:
    df = table.copy()
    if x == "compute" and ("compute" not in df or df["compute"].isna().any()):
        raise ValueError("the table has no compute column for every organism: collect it again with this version")
    out.parent.mkdir(parents=True, exist_ok=True)
    variants = analyse(df, x, tau, precursor, n_boot)
    two_axis = analyse_two_axis(df, tau, n_boot) if x == "params" else []
    seals = score_seals(as_seals(forecast), df)
    leads = lead_rows(seals, df)
    # Every figure is described first and drawn at once, in parallel (analysis/figure_jobs.py).
    jobs: dict[tuple[int, str], FigureJob] = {}
    extras = []
    for i, va in enumerate(variants):
        va.figures["tendency"] = FigureJob(plots.tendency_figure, (va.label, va.fits, va.emergences, x))
        g = va.rows(df)
        prows = organisms_of(g, precursor, PROBE_CONDITION)
        if not prows.empty:
            va.figures["precursor"] = FigureJob(
                plots.precursor_figure,
                (f"{va.label}: {precursor}", prows, va.precursor_fit, x, precursor, va.critical),
            )
        if va.backtest_rows:
            va.figures["backtest"] = FigureJob(plots.backtest_figure, (f"{va.label}: backtest", va.backtest_rows, x))
        extras.append(organism_section(va, df, curves, x))
        jobs.update({(i, k): job for k, job in va.figures.items()})
    jobs[(-1, "overview")] = FigureJob(overview_figure, (variants, x))
    if not leads.empty:
        jobs[(-1, "leads")] = FigureJob(error_lead_figure, (leads,))
    audit = audit_analysis(detection)
    if audit is not None:
        jobs[(-1, "detection")] = FigureJob(detectability_figure, (audit.by_params, "params"))
    for j, ta in enumerate(two_axis):
        jobs[(-2 - j, "surface")] = FigureJob(plots_scale.surface_figure, (f"{ta.label}: emergence over two axes", ta))
    drawn = render(jobs)
    for i, va in enumerate(variants):
        va.figures = {k: drawn[(i, k)] for k in va.figures}
    surfaces = [drawn[(-2 - j, "surface")] for j in range(len(two_axis))]
    sections = []
    for va, extra in zip(variants, extras, strict=True):
        figs = "".join(img(p, f"{va.label} {k}") for k, p in va.figures.items())
        bt = [
            {
                "method": r.method,
                "rungs used": r.k,
                "largest rung": f"{10**r.max_log10_scale_used:,.0f}",
                "forecast": _sci(r.forecast_log10) if math.isfinite(r.forecast_log10) else "no crossing",
                "error (decades)": f"{r.error_decades:.2f}" if math.isfinite(r.error_decades) else "—",
                "covered": "yes" if r.covered else "no",
                "kind": r.kind,
            }
            for r in va.backtest_rows
        ]
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in va.notes) or "<li>none</li>"
        sections.append(
            f"<section><h2>{html.escape(va.label)}</h2><p>failure mode: {html.escape(va.failure_mode)}"
            f"; mechanism: {html.escape(va.mechanism or 'not recorded')}</p><div class='figs'>{figs}</div>{extra}"
            f"<h3>Backtest</h3>{table_html(bt)}"
            f"<h3>Notes</h3><ul>{notes}</ul></section>"
        )
    summary = summary_rows(variants)
    fits = fits_table(variants, precursor)
    fits_path = out.with_name("fits.csv")
    fits.to_csv(fits_path, index=False)
    overview = drawn[(-1, "overview")]
    overview_path = out.with_name("overview.png")
    overview_path.write_bytes(overview)
    status = _status(table)
    method = (
        f"Rates: four-parameter logistic in log10({x}), binomial maximum likelihood on episode counts. "
        f"Continuous precursors: the model with the lowest AIC among log-linear, power law, saturating power law and "
        f"broken power law (1–2 breaks). Intervals: {n_boot} bootstrap draws resampling organisms (seeds) "
        f"within each rung; 90 % percentile intervals, open (∞) where bootstrap curves never cross. Emergence: "
        f"where the fitted curve crosses τ = {tau}; beyond the largest rung only where the organisms rise with "
        f"scale (one-sided Kendall test). Sharpness: decades from 10 % to 90 % of the fitted rise of the pooled "
        f"curve. Backtests fit only the k smallest rungs; a forecast gives a lead only if every rung it used is "
        f"below the emergence scale of the fit on all rungs. Lead: decades from the largest rung used to that "
        f"emergence scale at the first forecast within ×2; the table says whether every later forecast held. "
        f"Precursor forecast: where the {precursor} trend reaches its value at emergence in environments of another "
        f"mechanism, calibrated only on their organisms at or below the forecast's own largest rung. Organism by "
        f"organism: a two-component mixture of the organisms' log-odds whose share of turned organisms is logistic "
        f"in log10({x}) (Firth-corrected), 95 % profile-likelihood intervals. Sudden (a property of organisms, not "
        f"of their mean): the share of turned organisms rises from 10 % to 90 % in under a decade across its whole "
        f"interval, and with every seed left out in turn where there are 3 seeds or more. "
        f"An emergence whose τ lies on a plateau (a two-step logistic preferred by quasi-AIC) is refused."
    ) + "".join(f" {n}" for n in design_notes(table))
    page = _PAGE.format(
        title=html.escape(title),
        method=html.escape(method),
        summary=table_html(summary),
        overview=img(overview, "overview"),
        sections=two_axis_section(two_axis, surfaces)
        + forecast_section(seals, drawn.get((-1, "leads")), leads)
        + (detection_section(audit, drawn[(-1, "detection")]) if audit is not None else "")
        + ("".join(sections) or "<p>No finished trials to analyse.</p>"),
        status=table_html(status["rows"]),
        status_line=html.escape(status["line"]),
        spec=html.escape(str(prov.get("sweep_spec", "not available (report built from a table alone)"))),
        versions=table_html([{"package": k, "version": v} for k, v in (prov.get("versions") or {}).items()]),
        sandbox=table_html(prov.get("sandbox") or [{"note": "not available (report built from a table alone)"}]),
    )
    out.write_text(page)
    md = out.with_name("summary.md")
    extra_md = ""
    if two_axis:
        extra_md += "\n## Two scale axes\n\n" + markdown_table(thresholds_rows(two_axis))
    for s in seals:
        scored = markdown_table(forecast_summary(s.scores)) if s.scores is not None else f"Not scored: {s.error}\n"
        extra_md += f"\n## Sealed forecast, scored: {s.label}\n\n" + "".join(f"{n}\n\n" for n in s.notes) + scored
    if len(seals) > 1:
        extra_md += "\n## Forecast error against lead\n\n" + markdown_table(lead_table(leads))
        rule = rule_scores(seals)
        if not rule.empty:
            extra_md += f"\n## The pre-registered score\n\n{verdict_text(verdict(rule))}\n\n" + markdown_table(
                rule_table(rule)
            )
    if audit is not None:
        extra_md += "\n## Catching them: detectability\n\n" + markdown_table(audit.overall)
    md.write_text(f"# {title}\n\n{method}\n\n{markdown_table(summary)}{extra_md}\n{status['line']}\n")
    return {"html": out, "fits": fits_path, "summary": md, "overview": overview_path}


def _status(table: pd.DataFrame) -> dict[str, Any]:
    trials = table.groupby("trial_id").agg(
        env_id=("env_id", "first"), params=("params", "first"), seed=("seed", "first"), status=("status", "first")
    )
    counts = trials.status.value_counts().to_dict()
    line = f"{len(trials)} trials: " + ", ".join(f"{v} {k}" for k, v in counts.items())
    bad = trials[trials.status != "done"].reset_index()
    rows = bad.to_dict("records") if not bad.empty else []
    return {"line": line, "rows": rows}


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }}
th {{ background: #f3f3f3; }}
img {{ max-width: 100%; margin: 0.3em; border: 1px solid #eee; }}
.figs {{ display: flex; flex-wrap: wrap; }}
section {{ border-top: 2px solid #ddd; margin-top: 2em; }}
pre {{ background: #f7f7f7; padding: 1em; overflow-x: auto; }}
</style></head>
<body>
<h1>{title}</h1>
<p>{method}</p>
<h2>Summary</h2>
{summary}
{overview}
{sections}
<section><h2>Provenance</h2>
<p>{status_line}</p>
<h3>Trials not done</h3>{status}
<h3>Sweep spec</h3><pre>{spec}</pre>
<h3>Package versions</h3>{versions}
<h3>Sandbox status of every organism</h3>{sandbox}
</section>
<script>
window.addEventListener("load", function () {{
  var imgs = Array.from(document.images);
  var broken = imgs.filter(function (i) {{ return !i.complete || i.naturalWidth === 0; }});
  document.body.setAttribute("data-images", imgs.length);
  document.body.setAttribute("data-broken-images", broken.length);
}});
</script>
</body></html>
"""
