"""Several sealed forecasts of one study, scored together: how far ahead, in training compute, the instrument sees.

A study run in phases seals a forecast at each compute level. Each seal is scored against the
organisms it did not use (:func:`~bestiary.analysis.scoring.score`); this module puts every
scored prediction on one scale: its **lead**, the decades of training compute from the largest
compute the seal saw of that environment to the compute at which the behaviour turned out to
emerge, and its **signed error** (forecast − truth, decades along its axis, with the interval's
ends likewise). The figure and table say, per environment and method, how the error grows with
the lead — what this instrument can see coming, and from how far.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bestiary.analysis.forecast import FACTOR_TWO
from bestiary.analysis.plots import png_of
from bestiary.analysis.scoring import score, scores_frame
from bestiary.analysis.sealed import ForecastError


@dataclass
class Seal:
    """One sealed forecast to score, as the report receives it.

    Attributes:
        label: How the report names it (e.g. ``seal 2``, or its file).
        doc: The forecast (JSON), verified when scored.
        notes: What the caller knows of its provenance (git's record of it and of the results).
        scores: Filled in by :func:`score_seals`: the scores, or None.
        error: Filled in by :func:`score_seals`: why it could not be scored, or None.
    """

    label: str
    doc: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    scores: pd.DataFrame | None = None
    error: str | None = None


def as_seals(forecast: dict[str, Any] | Sequence[Seal] | None) -> list[Seal]:
    """The report's ``forecast`` argument as seals: none, one forecast's document, or seals already."""
    if forecast is None:
        return []
    if isinstance(forecast, dict):
        return [Seal("sealed forecast", forecast)]
    return list(forecast)


def score_seals(seals: Sequence[Seal], df: pd.DataFrame) -> list[Seal]:
    """Score every seal against the table (a seal that cannot be scored keeps why)."""
    for s in seals:
        try:
            s.scores = scores_frame(score(s.doc, df))
        except ForecastError as exc:
            s.error = str(exc)
    return list(seals)


def _seen_compute(doc: dict[str, Any], df: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Per variant, log10 of the largest training compute among the organisms the seal used."""
    used = df[df.trial_id.astype(str).isin(doc.get("organisms", {})) & df.compute.notna()]
    return {(str(e), str(k)): float(np.log10(g.compute.astype(float).max()))
            for (e, k), g in used.groupby(["env_id", "env_kwargs"])}  # fmt: skip


def _kappa(df: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Per variant, log10 of FLOPs per parameter-timestep (the algorithm's factor in C = κ·N·T)."""
    d = df[df.compute.notna()]
    ratio = np.log10(d.compute.astype(float) / (d.params.astype(float) * d.timesteps.astype(float)))
    return {(str(e), str(k)): float(r.median()) for (e, k), r in ratio.groupby([d.env_id, d.env_kwargs])}


def lead_rows(seals: Sequence[Seal], df: pd.DataFrame) -> pd.DataFrame:
    """Every counted prediction of every scored seal with its lead in training compute and its signed error.

    Columns: seal, env_id, env_kwargs, method, axis, at, outcome, lead_compute_decades (nan where the
    truth is not a crossing within the data), signed_error, error_low, error_high (the interval's ends
    minus the truth), error_decades (the least error for a censored outcome), censored.
    """
    if "compute" not in df or df.compute.isna().all():
        return pd.DataFrame()
    kappa = _kappa(df)
    out = []
    for s in seals:
        if s.scores is None or s.scores.empty:
            continue
        seen = _seen_compute(s.doc, df)
        for r in s.scores[s.scores.kind == "forecast"].itertuples():
            key = (str(r.env_id), str(r.env_kwargs))
            truth, lead = float(r.truth_log10), math.nan
            if math.isfinite(truth) and key in seen and key in kappa:
                truth_c = truth if r.axis == "compute" else kappa[key] + truth + math.log10(r.at_value)
                lead = truth_c - seen[key]
            finite = math.isfinite(truth) and math.isfinite(r.log10_estimate)
            out.append({
                "seal": s.label, "env_id": r.env_id, "env_kwargs": r.env_kwargs, "method": r.method,
                "axis": r.axis, "at": r.at, "outcome": r.outcome, "lead_compute_decades": lead,
                "signed_error": r.log10_estimate - truth if finite else math.nan,
                "error_low": r.interval_low - truth if finite else math.nan,
                "error_high": r.interval_high - truth if finite else math.nan,
                "error_decades": r.error_decades, "censored": r.censored, "covered": r.covered,
            })  # fmt: skip
    return pd.DataFrame(out)


def lead_table(rows: pd.DataFrame) -> list[dict[str, str]]:
    """Per environment, method and seal: predictions scored, median error, within ×2, covered, median lead."""
    if rows.empty:
        return []
    out = []
    for (env, method, seal), g in rows.groupby(["env_id", "method", "seal"], sort=True):
        leads = g.lead_compute_decades.dropna()
        out.append({
            "environment": str(env).split("/")[-1], "method": str(method), "seal": str(seal),
            "scored": str(len(g)), "with a truth in the data": str(len(leads)),
            "median |error| (dec.)": "—" if g.error_decades.isna().all() else
            ("≥ " if g.censored.any() else "") + f"{g.error_decades.median():.2f}",
            "within ×2": f"{(g.outcome == 'hit').mean():.0%}", "interval covered": f"{g.covered.mean():.0%}",
            "median lead (dec. of compute)": f"{leads.median():.2f}" if len(leads) else "—",
        })  # fmt: skip
    return out


def error_lead_figure(rows: pd.DataFrame) -> bytes:
    """Signed error against lead in training compute, one panel per environment, one colour per method."""
    data = rows.dropna(subset=["lead_compute_decades", "signed_error"]) if not rows.empty else rows
    if data.empty:
        fig, ax = plt.subplots(figsize=(5, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no scored prediction has a truth within the data", ha="center", va="center")
        return png_of(fig)
    envs = sorted(data.env_id.unique())
    cols = min(3, len(envs))
    fig, axes = plt.subplots(math.ceil(len(envs) / cols), cols, figsize=(4.2 * cols, 3.4 * math.ceil(len(envs) / cols)),
                             squeeze=False, sharey=True)  # fmt: skip
    methods = sorted(data.method.unique())
    colours = dict(zip(methods, plt.get_cmap("tab10")(np.arange(len(methods))), strict=True))
    markers = dict(zip(sorted(data.seal.unique()), "osD^v<>px*", strict=False))
    for ax, env in zip(axes.flat, envs, strict=False):
        for (method, seal), g in data[data.env_id == env].groupby(["method", "seal"]):
            low = np.clip(g.signed_error - g.error_low.fillna(g.signed_error), 0, 3)
            high = np.clip(g.error_high.fillna(g.signed_error) - g.signed_error, 0, 3)
            ax.errorbar(g.lead_compute_decades, g.signed_error, yerr=[low, high], fmt=markers.get(seal, "o"),
                        color=colours[method], ms=5, lw=0.8, alpha=0.8, label=f"{method}, {seal}")  # fmt: skip
        ax.axhspan(-FACTOR_TWO, FACTOR_TWO, color="green", alpha=0.08)
        ax.axhline(0, color="black", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5, ls=":")
        ax.set_title(str(env).split("/")[-1], fontsize=10)
        ax.set_xlabel("lead: decades of training compute beyond what the seal saw")
    axes[0][0].set_ylabel("forecast − truth (decades)")
    for ax in axes.flat[len(envs) :]:
        ax.axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=min(6, len(labels)), frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return png_of(fig)


def seal_head(s: Seal) -> str:
    """A seal's provenance as one HTML paragraph: when, from how many organisms, its level, git's record."""
    ctx = s.doc.get("context") or {}
    level = ctx.get("sealed_below")
    beyond = ""
    if ctx:
        beyond = (
            f"; {ctx.get('organisms_beyond_already_trained', '?')} of the "
            f"{ctx.get('organisms_beyond_planned', '?')} organisms above it already existed when it was sealed"
        )
    if isinstance(ctx.get("amends"), dict):
        a = ctx["amends"]
        beyond = (f"; an amendment of the seal {str(a.get('sha256'))[:12]} (sealed {a.get('created')}), remade from "
                  f"its committed table alone: {a.get('why')}")  # fmt: skip
    at = f" at or below {level}" if level else ""
    text = f"{s.label}: sealed {s.doc.get('created')} from {len(s.doc.get('organisms', {}))} organisms{at}{beyond}"
    notes = "".join(f"<br>{html.escape(n)}" for n in s.notes)
    hindsight = f"<br><b>Hindsight:</b> {html.escape(str(s.doc['hindsight']))}" if s.doc.get("hindsight") else ""
    return f"<p>{html.escape(text)}.{notes}{hindsight}</p>"
