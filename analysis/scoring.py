"""Scoring a sealed forecast against organisms it did not use (:mod:`~bestiary.analysis.sealed` makes it).

Every prediction of a slice (an environment at a budget, or at a parameter count) that gained an
organism the forecast did not use counts; the truth is bracketed by the slice's rungs; false
alarms and missed emergences are scored with the least error they can have; a truth on a plateau
is never scored.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from bestiary.analysis.forecast import FACTOR_TWO
from bestiary.analysis.plateaus import detect_plateau
from bestiary.analysis.sealed import (
    BEHAVIOUR,
    RESULT_COLUMNS,
    ForecastError,
    number,
    organism_hashes,
    rows_of,
    verify,
)
from bestiary.analysis.trends import InsufficientDataError, emergence, fit_trend


@dataclass(frozen=True)
class Score:
    """A prediction scored against what the organisms it did not use show.

    Attributes:
        truth_log10: The emergence scale fitted on every organism of the slice when it lies within
            the slice's rungs; −∞ when the behaviour is at or above τ from the smallest rung on; nan
            when τ is not reached up to the largest rung (the truth is then only "beyond" it).
        error_decades: |forecast − truth|; for a censored outcome, the least the error can be.
        censored: The error is a lower bound (one side of the comparison is open).
        outcome: ``hit`` (within ×2), ``miss``, ``false alarm`` (emergence forecast inside the
            grid where none came), ``missed emergence`` (``not reached`` forecast where it came),
            ``agrees: not reached``, ``abstained`` (the method could not forecast: too few rungs, no
            critical level), ``untested`` (no organism it did not use in this slice), ``no truth: τ on a
            plateau`` (the slice's τ lies on a shelf, where the pipeline refuses an emergence scale).
        kind: ``forecast`` when the prediction counts in the headline, else ``untested``.
        at_value: The value held fixed (``at`` without its name: a budget, or a parameter count).
    """

    env_id: str
    env_kwargs: str
    axis: str
    at: str
    method: str
    log10_estimate: float
    interval_low: float
    interval_high: float
    truth_log10: float
    largest_trained_log10: float
    error_decades: float
    censored: bool
    covered: bool
    within_factor_two: bool
    lead_decades: float
    outcome: str
    kind: str
    at_value: float = math.nan


def score(doc: dict[str, Any], df: pd.DataFrame, n_boot: int = 0) -> list[Score]:
    """Score a sealed forecast against a table that holds organisms it did not use.

    Every prediction of a slice (an environment at a budget, or at a parameter count) that holds
    an organism the forecast did not use is scored, whatever the scale of that organism: a
    forecast of emergence inside the grid where none came is a *false alarm*, a forecast of
    "not reached" where it came a *missed emergence*, both with the least error they can have
    (the distance to the largest scale trained). The truth is bracketed by data: a crossing
    beyond the largest rung is not a truth, only "not reached up to it".

    Raises:
        ForecastError: A tampered file, a used organism whose results changed, or no new organism.
    """
    doc = verify(doc)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _score(doc, df, n_boot)


@dataclass(frozen=True)
class _Truth:
    """What the organisms of one slice say: the emergence scale where its rungs bracket it.

    ``value`` is the crossing (−∞ below the smallest rung, nan when τ is not reached up to the
    largest); ``plateau`` when τ lies on a shelf, where the pipeline refuses any emergence scale;
    ``testable`` when the slice holds an organism the forecast did not use.
    """

    value: float
    smallest: float
    largest: float
    testable: bool
    plateau: bool = False


def _truth(g: pd.DataFrame, axis: str, tau: float, n_boot: int, testable: bool) -> _Truth:
    """The bracketed truth of a slice's organisms along ``axis``."""
    lx = np.log10(g[axis].astype(float).to_numpy())
    lo, hi = float(lx.min()), float(lx.max())
    if detect_plateau(g, tau, axis).on_tau:
        return _Truth(math.nan, lo, hi, testable, plateau=True)
    try:
        fit = fit_trend(g, x=axis, model="logistic", n_boot=n_boot)
    except InsufficientDataError:
        return _Truth(math.nan, lo, hi, testable)
    t = emergence(fit, tau).log10_scale
    if t == -math.inf or (math.isfinite(t) and t < lo):
        return _Truth(-math.inf, lo, hi, testable)
    if not math.isfinite(t) or t > hi:
        return _Truth(math.nan, lo, hi, testable)  # not reached up to the largest rung
    return _Truth(t, lo, hi, testable)


#: Notes of a prediction with no estimate that nevertheless claim "τ is not reached" (not an abstention).
_NOT_REACHED_NOTES = ("does not cross", "not reached", "every organism's rate is", "does not reach this budget")


def _claims_not_reached(note: str) -> bool:
    return any(phrase in (note or "") for phrase in _NOT_REACHED_NOTES)


def _outcome(est: float, lo_iv: float, hi_iv: float, truth: float, small: float, top: float) -> tuple:
    """(outcome, error, censored, covered) of one estimate against a bracketed truth.

    An end below the data (−∞) counts as the smallest rung, a "not reached" as beyond the largest:
    the error is then the least it can be, and censored.
    """
    emerged, forecast_emerges = not math.isnan(truth), not math.isnan(est)
    has_interval = not (math.isnan(lo_iv) or math.isnan(hi_iv))
    covered = has_interval and (lo_iv <= truth <= hi_iv if emerged else hi_iv > top)
    if emerged and forecast_emerges:
        err = abs((small if est == -math.inf else est) - (small if truth == -math.inf else truth))
        censored = truth == -math.inf or est == -math.inf
        return ("hit" if err <= FACTOR_TWO else "miss"), err, censored, bool(covered)
    if forecast_emerges:  # and nothing emerged up to the largest rung
        if est > top:
            return "agrees: not reached", 0.0, True, bool(covered)
        return "false alarm", top - max(est, small), True, bool(covered)
    if emerged:
        return "missed emergence", top - max(truth, small), True, bool(covered)
    return "agrees: not reached", 0.0, True, bool(covered)


def _score(doc: dict[str, Any], df: pd.DataFrame, n_boot: int) -> list[Score]:
    tau = float(doc["tau"])
    # The columns the forecast hashed (a file written before content identities: the results only).
    now = organism_hashes(df, list(doc.get("hashed") or RESULT_COLUMNS))
    used: dict[str, str] = doc["organisms"]
    changed = [t for t, h in used.items() if t in now and now[t] != h]
    if changed:
        raise ForecastError(
            f"{len(changed)} organism(s) the forecast used have other results or weights now (e.g. {changed[0]}): the "
            "forecast cannot be scored against changed data"
        )
    present = [t for t in used if t in now]
    if used and not present:
        raise ForecastError(
            f"none of the {len(used)} organisms the forecast used is in this table: what it was made from cannot be "
            "checked, so it cannot be scored (score it against the table that holds them and the new ones)"
        )
    new = sorted(set(now) - set(used))
    copies = sorted(t for t in new if now[t] in set(used.values()))
    if copies:
        raise ForecastError(
            f"{len(copies)} organism(s) not used by the forecast have exactly the results of one it used (e.g. "
            f"{copies[0]}): copies under new trial ids are not organisms the forecast did not see"
        )
    if not new:
        raise ForecastError(
            "every finished organism here was used by the forecast: score it against organisms trained after it"
        )
    done = df[df.status == "done"]
    truths: dict[tuple, _Truth] = {}
    out = []
    for p in doc["predictions"]:
        metric = str(p.get("metric") or BEHAVIOUR)  # a forecast of a behaviour kind is scored on that kind
        key = (p["env_id"], p["env_kwargs"], p["axis"], json.dumps(p["at"], sort_keys=True), metric)
        ((name, value),) = p["at"].items()
        axis = p["axis"]
        if key not in truths:
            g = rows_of(done[(done.env_id == p["env_id"]) & (done.env_kwargs == p["env_kwargs"])], metric, "off")
            g = g[np.isclose(g[name].astype(float), value)]
            if g.empty:
                truths[key] = _Truth(math.nan, math.nan, math.nan, testable=False)
            else:
                truths[key] = _truth(g, axis, tau, n_boot, bool((~g.trial_id.astype(str).isin(used)).any()))
        tr = truths[key]
        truth, small, top = tr.value, tr.smallest, tr.largest
        est = number(p["log10_estimate"])
        lo_iv, hi_iv = (number(v) for v in p["interval"])
        used_top = number(p["largest_used_log10"])
        if not tr.testable:
            outcome, err, censored, covered, kind = "untested", math.nan, False, False, "untested"
        elif tr.plateau:
            outcome, err, censored, covered, kind = "no truth: τ on a plateau", math.nan, False, False, "untested"
        elif math.isnan(est) and not _claims_not_reached(p.get("note", "")):
            # The method could not forecast here (too few rungs, no critical level): an abstention, shown
            # in the counts by outcome and never as agreement.
            outcome, err, censored, covered = ("abstained", math.nan, False, False)
            kind = "forecast"
        else:
            outcome, err, censored, covered = _outcome(est, lo_iv, hi_iv, truth, small, top)
            kind = "forecast"
        lead = truth - used_top if kind == "forecast" and math.isfinite(truth) else math.nan
        out.append(
            Score(
                p["env_id"], p["env_kwargs"], axis, f"{name} {value:,.0f}", p["method"], est, lo_iv, hi_iv, truth,
                top, err, censored, bool(covered), bool(outcome == "hit"), lead, outcome, kind, float(value),
            )
        )  # fmt: skip
    return out


def scores_frame(scores: list[Score]) -> pd.DataFrame:
    """The scores as a table."""
    return pd.DataFrame([asdict(s) for s in scores])
