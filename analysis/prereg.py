"""A study's pre-registered scoring rule: per target, the latest seal far enough below the answer.

A study sealed at several compute levels has, for every target (an environment's emergence along
training compute at one parameter rung), one prediction per seal. Scoring all of them and
quoting the best would let the study choose its headline after the answer; the rule fixed in
advance picks one per target instead: the prediction of the **latest seal whose compute level
lies at least ``min_lead`` decades below the measured emergence** (the emergence fitted on every
organism and bracketed by data). Its error and its interval's coverage are the study's headline;
every other prediction stays in the error-against-lead table.

The verdict counts an environment as *foreseen* when at least one of its rule-scored targets lands
within ×2; environments of one mechanism count as one mechanism.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from bestiary.analysis.seals import Seal


def seal_level(seal: Seal) -> float:
    """log10 of the seal's compute level (``context.sealed_below.compute``), or nan if it has none."""
    level = ((seal.doc.get("context") or {}).get("sealed_below") or {}).get("compute")
    try:
        return math.log10(float(level)) if level is not None and float(level) > 0 else math.nan
    except (TypeError, ValueError):
        return math.nan


def _mechanisms(seals: Sequence[Seal]) -> dict[str, str]:
    out: dict[str, str] = {}
    for s in seals:
        for p in s.doc.get("predictions") or []:
            out.setdefault(str(p.get("env_id")), str(p.get("mechanism") or p.get("env_id")))
    return out


_UNSCORED = {
    "level_log10": math.nan, "lead_decades": math.nan, "log10_estimate": math.nan, "interval_low": math.nan,
    "interval_high": math.nan, "error_decades": math.nan, "outcome": "", "covered": False,
}  # fmt: skip


def rule_scores(
    seals: Sequence[Seal], min_lead: float = 1.0, method: str = "behaviour", axis: str = "compute"
) -> pd.DataFrame:
    """Per target, the score of the latest seal at least ``min_lead`` decades of compute below its emergence.

    Args:
        seals: Scored seals (:func:`~bestiary.analysis.seals.score_seals`), each with a compute level; a seal
            whose amendment (``context.amends``) is among them is left to its amendment.
        min_lead: Decades of compute the seal's level must lie below the measured emergence.
        method: The forecast the rule scores (the study's behaviour forecast).
        axis: Its axis (emergence along training compute, at each parameter rung).

    Returns:
        One row per target with a measured emergence: env_id, env_kwargs, mechanism, at, truth_log10,
        seal (the chosen one, or "" when no seal lies far enough below), level_log10, lead_decades
        (truth − level), log10_estimate, interval_low, interval_high, error_decades, outcome, covered.
    """
    mech = _mechanisms(seals)
    # An amended seal is scored by the rule through its amendment when both are given (the original is still
    # scored on its own, elsewhere): one prediction per seal level, never a choice between the two.
    amends = [((s.doc.get("context") or {}).get("amends") or {}).get("sha256") for s in seals]
    superseded = {str(a) for a in amends if a}
    picked: dict[tuple[str, str, str], dict] = {}
    for s in sorted((s for s in seals if str(s.doc.get("sha256")) not in superseded), key=seal_level):
        level = seal_level(s)
        if s.scores is None or s.scores.empty or math.isnan(level):
            continue
        rows = s.scores[(s.scores.method == method) & (s.scores.axis == axis) & (s.scores.kind == "forecast")]
        for r in rows.itertuples():
            key = (str(r.env_id), str(r.env_kwargs), str(r.at))
            truth = float(r.truth_log10)
            if not math.isfinite(truth):
                continue  # no emergence bracketed by data: nothing for the rule to score
            entry = picked.setdefault(key, {"env_id": key[0], "env_kwargs": key[1], "at": key[2],
                                            "mechanism": mech.get(key[0], key[0]), "truth_log10": truth,
                                            "seal": "", **_UNSCORED})  # fmt: skip
            if truth - level >= min_lead:  # seals ascend: a later one far enough below replaces an earlier
                entry.update(
                    seal=s.label, level_log10=level, lead_decades=truth - level,
                    log10_estimate=float(r.log10_estimate), interval_low=float(r.interval_low),
                    interval_high=float(r.interval_high), error_decades=float(r.error_decades),
                    outcome=str(r.outcome), covered=bool(r.covered),
                )  # fmt: skip
    return pd.DataFrame(list(picked.values()))


@dataclass(frozen=True)
class Verdict:
    """The pre-registered success criterion, evaluated.

    Attributes:
        scored: Targets the rule scored (a seal far enough below).
        unscored: Targets with a measured emergence but no seal far enough below it.
        foreseen: Environments with a rule-scored target within ×2.
        mechanisms: Their mechanisms.
        coverage: Share of rule-scored targets whose 90 % interval covers the truth (nan if none).
        success: At least ``min_envs`` foreseen environments of at least ``min_mechanisms`` mechanisms,
            and coverage ≥ ``min_coverage``.
    """

    scored: int
    unscored: int
    foreseen: tuple[str, ...]
    mechanisms: tuple[str, ...]
    coverage: float
    success: bool


def verdict(rows: pd.DataFrame, min_envs: int = 4, min_mechanisms: int = 3, min_coverage: float = 0.8) -> Verdict:
    """Evaluate the success criterion on :func:`rule_scores`' rows."""
    if rows.empty:
        return Verdict(0, 0, (), (), math.nan, False)
    scored = rows[rows.seal != ""]
    hits = scored[scored.outcome == "hit"]
    envs = tuple(sorted(hits.env_id.unique()))
    mechs = tuple(sorted(hits.mechanism.unique()))
    coverage = float(scored.covered.mean()) if len(scored) else math.nan
    ok = len(envs) >= min_envs and len(mechs) >= min_mechanisms and coverage >= min_coverage
    return Verdict(len(scored), len(rows) - len(scored), envs, mechs, coverage, bool(ok))


def rule_table(rows: pd.DataFrame) -> list[dict[str, str]]:
    """The rule's rows for a report or markdown table, one per target."""
    out = []
    for r in rows.sort_values(["env_id", "env_kwargs", "truth_log10"]).itertuples():
        chosen = bool(r.seal)
        out.append({
            "environment": r.env_id.split("/")[-1] + ("" if r.env_kwargs == "{}" else f" {r.env_kwargs}"),
            "at": r.at, "emergence (log10 FLOPs)": f"{r.truth_log10:.2f}",
            "scored seal": r.seal if chosen else "none ≥ 1 decade below",
            "lead (dec.)": f"{r.lead_decades:.2f}" if chosen else "—",
            "forecast [90 %]": f"{r.log10_estimate:.2f} [{r.interval_low:.2f}, {r.interval_high:.2f}]"
            if chosen
            else "—",
            "error (dec.)": f"{r.error_decades:.2f}" if chosen else "—",
            "outcome": r.outcome if chosen else "—", "covered": ("yes" if r.covered else "no") if chosen else "—",
        })  # fmt: skip
    return out


def verdict_text(v: Verdict, min_lead: float = 1.0) -> str:
    """One paragraph: what the rule scored and whether the criterion was met, with the numbers."""
    if v.scored + v.unscored == 0:
        return "The pre-registered rule has nothing to score: no target's emergence is bracketed by data."
    names = ", ".join(e.split("/")[-1] for e in v.foreseen) or "none"
    cover = "—" if math.isnan(v.coverage) else f"{v.coverage:.0%}"
    return (
        f"Pre-registered rule (per target, the latest seal at least {min_lead:g} decade(s) of compute below the "
        f"measured emergence): {v.scored} target(s) scored, {v.unscored} with no seal far enough below. Within ×2: "
        f"{len(v.foreseen)} environment(s) ({names}) of {len(v.mechanisms)} mechanism(s); the 90 % intervals cover "
        f"{cover} of the scored targets. Criterion (≥ 4 environments of ≥ 3 mechanisms, coverage ≥ 80 %): "
        + ("met." if v.success else "NOT met.")
    )
