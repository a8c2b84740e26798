"""Sealed forecasts: written from the organisms trained so far, scored later against organisms that did not exist.

A forecast made on a ladder chosen after the jumps were seen is a fit, not a forecast.
:func:`make_forecast` writes, from a results table, where each behaviour will emerge —
in parameters at each training budget, and in compute at each parameter rung — by
several methods side by side:

- ``surface``: the two-axis emergence surface (:mod:`~bestiary.analysis.surface`), its τ
  contour read at that budget (or parameter count);
- ``behaviour``: a logistic of the rate against the axis, extrapolated;
- ``precursor`` and ``logodds_gap``: where the precursor's trend reaches the critical
  level — its value at the emergence scale in environments of *another mechanism* (the
  sources are listed), at the same budget;
- ``width_only``: the first study's method, a logistic in parameters over every budget
  pooled, as if the budget did not matter.

Every organism used is recorded with a content hash of its results, and the file carries
a hash of itself. :func:`~bestiary.analysis.scoring.score` refuses a file whose hash does not match (tampered), a set
of organisms in which a used organism's results changed, and one with no organism the
forecast did not use; it then reports, per forecast, the error in decades against the
emergence fitted on all organisms, whether the interval covered it, and the lead: how
far beyond the largest scale the forecast saw the emergence turned out to be. A forecast
whose answer lies within the scales it saw is marked a *nowcast* and gives no lead.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from bestiary.analysis.beyond import open_above
from bestiary.analysis.plateaus import detect_plateau
from bestiary.analysis.schema import PROBE_CONDITION
from bestiary.analysis.support import forecastable
from bestiary.analysis.surface import fit_surface
from bestiary.analysis.table import declared_kinds, variant_label
from bestiary.analysis.trends import InsufficientDataError, emergence, fit_trend, within_data

FORMAT = "bestiary-forecast/2"
#: Earlier formats that can still be read (format 1 wrote every non-finite number as null).
READABLE_FORMATS = ("bestiary-forecast/1", FORMAT)
BEHAVIOUR = "violation_rate"
PRECURSORS = {"precursor": "latent_probe_accuracy", "logodds_gap": "logodds_gap"}
#: What an organism's hash covers: its results (every forecast file hashes these).
RESULT_COLUMNS = ["condition", "metric", "value", "successes", "trials"]
#: Hashed too where the table has it: the organism's content identity (weights and spec).
CONTENT = "organism_sha256"
_TEXT = ("condition", "metric", CONTENT)


class ForecastError(ValueError):
    """A forecast that cannot be made or scored (with why)."""


def hashed_columns(df: pd.DataFrame) -> list[str]:
    """The columns an organism's hash covers in this table: its results, and its content identity if recorded."""
    return [*RESULT_COLUMNS, CONTENT] if CONTENT in df and df[CONTENT].notna().any() else list(RESULT_COLUMNS)


def organism_hashes(df: pd.DataFrame, columns: list[str] | None = None) -> dict[str, str]:
    """SHA-256 of each finished organism's rows (sorted; every value as its exact repr): what a forecast used.

    Args:
        df: A results table.
        columns: The columns hashed (default: :func:`hashed_columns`; a forecast records its own).
    """
    done = df[df.status == "done"].sort_values(["trial_id", "condition", "metric"], kind="stable")
    columns = columns or hashed_columns(df)
    missing = [c for c in columns if c not in done]
    if missing:
        raise ForecastError(f"the table lacks column(s) {', '.join(missing)} that the forecast's hashes cover")
    cells = [_canonical(done[c]) for c in columns]
    lines = cells[0].str.cat(cells[1:], sep="|")
    out = {}
    for tid, text in lines.groupby(done["trial_id"].to_numpy(), sort=True).agg("\n".join).items():
        out[str(tid)] = hashlib.sha256(text.encode()).hexdigest()
    return out


def _canonical(col: pd.Series) -> pd.Series:
    """Each cell as text that does not depend on the column's dtype.

    A count held as Int64, int64, float64 or object is the same number, so a table read back
    from parquet or CSV hashes as the one in memory.
    """
    if col.name in _TEXT:
        return col.astype(object).where(col.notna(), None).map(lambda v: repr(None if v is None else str(v)))
    num = pd.to_numeric(col.astype(object).where(col.notna(), None), errors="coerce").astype(float)
    return num.map(lambda v: "None" if v != v else repr(v))


def _self_hash(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=True).encode()).hexdigest()


@dataclass
class Prediction:
    """One forecast: where a variant's behaviour emerges along an axis, at a fixed value of the other."""

    env_id: str
    env_kwargs: str
    mechanism: str
    axis: str  # params | compute
    at: dict[str, float]  # {"timesteps": T} or {"params": N}
    method: str
    log10_estimate: float
    interval: tuple[float, float]
    largest_used_log10: float
    critical_level: float = math.nan
    critical_sources: list[str] | None = None
    note: str = ""
    metric: str = BEHAVIOUR


def headline_metric(g: pd.DataFrame) -> str:
    """The rate a variant's behaviour forecast is made on: its first declared plateau-free kind the table holds.

    An organism reading half the cue sits on a plateau of the pooled rate for ever, so the kind is the
    forecast; a variant without one is forecast on the pooled violation rate.
    """
    held = set(g[(g.condition == "off") & (g.status == "done")].metric.astype(str))
    return next((name for name in declared_kinds(g) or [] if name in held), BEHAVIOUR)


def rows_of(df: pd.DataFrame, metric: str, condition: str) -> pd.DataFrame:
    """The finished organisms' rows of one metric in one condition."""
    return df[(df.metric == metric) & (df.condition == condition) & (df.status == "done")]


def _crossing(rows: pd.DataFrame, x: str, tau: float, n_boot: int, level: float | None = None) -> tuple:
    """(estimate, interval, note) of a behaviour logistic (or, with ``level``, a precursor trend)."""
    try:
        if level is None:
            shelf = detect_plateau(rows, tau, x)
            if shelf.on_tau:
                return math.nan, (math.nan, math.nan), f"refused: {shelf.reason}"
            fit = fit_trend(rows, x=x, model="logistic", n_boot=n_boot)
            e = open_above(forecastable(emergence(fit, tau), fit), fit)
        else:
            fit = fit_trend(rows, x=x, y="value", model="auto", n_boot=n_boot)
            e = forecastable(emergence(fit, level), fit)
    except InsufficientDataError as exc:
        return math.nan, (math.nan, math.nan), str(exc)
    return e.log10_scale, e.interval, e.note


def _levels(df: pd.DataFrame, metric: str, tau: float) -> dict[tuple[str, str, float], tuple[float, str]]:
    """Per (variant, budget): the precursor's fitted value at the behaviour's emergence within the data."""
    out = {}
    for (env_id, kw, t), g in df[df.status == "done"].groupby(["env_id", "env_kwargs", "timesteps"]):
        beh, pre = rows_of(g, BEHAVIOUR, "off"), rows_of(g, metric, PROBE_CONDITION)
        if beh.params.nunique() < 3 or pre.params.nunique() < 2:
            continue
        try:
            bfit = fit_trend(beh, x="params", model="logistic", n_boot=0)
            e = within_data(emergence(bfit, tau), bfit)
            if not math.isfinite(e.log10_scale):
                continue
            pfit = fit_trend(pre, x="params", y="value", model="auto", n_boot=0)
        except InsufficientDataError:
            continue
        mech = str(g["mechanism"].iloc[0]) if "mechanism" in g and pd.notna(g["mechanism"].iloc[0]) else ""
        out[(str(env_id), str(kw), float(t))] = (float(pfit.predict(10**e.log10_scale)), mech)
    return out


def _mechanism(g: pd.DataFrame) -> str:
    if "mechanism" in g and g["mechanism"].notna().any():
        return str(g["mechanism"].dropna().iloc[0])
    return ""


def make_forecast(
    df: pd.DataFrame,
    tau: float = 0.5,
    n_boot: int = 100,
    context: dict[str, Any] | None = None,
    budgets: Sequence[float] = (),
) -> dict[str, Any]:
    """A sealed forecast (a JSON-ready dict with its own hash) from the finished organisms of a table.

    Args:
        df: The results table of the organisms trained so far.
        tau: Danger level of the behaviour.
        n_boot: Bootstrap draws per fit.
        context: Facts to seal with it (how it was made), under ``context``.
        budgets: Training budgets (timesteps) to forecast at besides the table's own — those of
            organisms not trained yet, where only the surface and the pooled logistic can speak.

    Raises:
        ForecastError: If the table has no finished organism.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # bootstrap curves that never cross give all-nan slices
        return _make_forecast(df, tau, n_boot, context or {}, budgets)


def _make_forecast(
    df: pd.DataFrame, tau: float, n_boot: int, context: dict[str, Any], budgets: Sequence[float]
) -> dict[str, Any]:
    done = df[df.status == "done"]
    if done.empty:
        raise ForecastError("no finished organism to forecast from")
    # One order for any reading of the same organisms (the bootstrap resamples rows by position), so a seal
    # remade from its exported table is the seal the sweep made from its run directories.
    keys = [c for c in ("env_id", "env_kwargs", "params", "timesteps", "seed", "metric", "condition") if c in done]
    done = done.sort_values(keys, kind="stable").reset_index(drop=True)
    preds: list[Prediction] = []
    levels = {name: _levels(done, metric, tau) for name, metric in PRECURSORS.items()}
    for (env_id, kw), g in done.groupby(["env_id", "env_kwargs"], sort=True):
        mech = _mechanism(g)
        headline = headline_metric(g)
        beh = rows_of(g, BEHAVIOUR, "off")
        if beh.empty:
            continue
        surf, why = None, ""
        try:
            surf = fit_surface(beh, tau, n_boot=n_boot)
        except InsufficientDataError as exc:  # e.g. a single budget has no surface
            why = f"no surface: {exc}"
        pooled = _crossing(beh, "params", tau, n_boot)
        seen = {float(t) for t in beh.timesteps.unique()}
        for t in sorted(seen | {float(b) for b in budgets}):
            at_t = beh[beh.timesteps == t]
            used = float(np.log10((at_t if t in seen else beh).params.max()))
            common: dict[str, Any] = dict(env_id=str(env_id), env_kwargs=str(kw), mechanism=mech, axis="params",
                          at={"timesteps": float(t)}, largest_used_log10=used)  # fmt: skip
            preds.append(Prediction(**common, method="width_only", log10_estimate=pooled[0], interval=pooled[1],
                                    note="every budget pooled: " + pooled[2]))  # fmt: skip
            if surf is not None and surf.rejected:
                preds.append(Prediction(**common, method="surface", log10_estimate=math.nan,
                                        interval=(math.nan, math.nan), note=f"refused: {surf.rejected}"))  # fmt: skip
            elif surf is not None:
                c = float(surf.contour_n(math.log10(t))[0])
                band = surf.contour_n_band(math.log10(t))
                note = "" if math.isfinite(c) else "the surface's τ contour does not reach this budget (below T_min)"
                preds.append(Prediction(**common, method="surface", log10_estimate=c, interval=band, note=note))
            else:
                preds.append(Prediction(**common, method="surface", log10_estimate=math.nan,
                                        interval=(math.nan, math.nan), note=why))  # fmt: skip
            if t not in seen:
                continue  # no organism at this budget yet: only the surface and the pooled logistic can speak
            est, iv, note = _crossing(at_t, "params", tau, n_boot)
            if headline == BEHAVIOUR:
                preds.append(Prediction(**common, method="behaviour", log10_estimate=est, interval=iv, note=note))
            else:  # the plateau-free kind is the behaviour forecast; the pooled rate is reported beside it
                kind = rows_of(g, headline, "off")
                k_est, k_iv, k_note = _crossing(kind[kind.timesteps == t], "params", tau, n_boot)
                preds.append(Prediction(**common, method="behaviour", log10_estimate=k_est, interval=k_iv,
                                        note=k_note, metric=headline))  # fmt: skip
                preds.append(Prediction(**common, method="behaviour_pooled", log10_estimate=est, interval=iv,
                                        note=note))  # fmt: skip
            for name, metric in PRECURSORS.items():
                others = {
                    k: v for k, v in levels[name].items()
                    if k[2] == float(t) and v[1] != mech and (k[0], k[1]) != (env_id, kw)
                }  # fmt: skip
                pre = rows_of(g, metric, PROBE_CONDITION)
                pre = pre[pre.timesteps == t]
                if not others:
                    note = f"no environment of another mechanism than {mech or 'unknown'} emerged at this budget"
                    preds.append(Prediction(**common, method=name, log10_estimate=math.nan,
                                            interval=(math.nan, math.nan), note=note))  # fmt: skip
                    continue
                level = float(np.mean([v[0] for v in others.values()]))
                sources = [f"{variant_label(k[0], k[1])} ({v[1]}): {v[0]:.3g}" for k, v in sorted(others.items())]
                est, iv, note = _crossing(pre, "params", tau, n_boot, level=level)
                preds.append(Prediction(**common, method=name, log10_estimate=est, interval=iv,
                                        critical_level=level, critical_sources=sources, note=note))  # fmt: skip
        if "compute" in beh and beh.compute.notna().all():
            for n in sorted(beh.params.unique()):
                at_n = beh[beh.params == n]
                if at_n.timesteps.nunique() < 3:
                    continue
                # The lead is measured from the largest compute the forecast saw of this variant at any
                # parameter count, not from this row's own: organisms of other sizes were trained further.
                used = float(np.log10(beh.compute.max()))
                est, iv, note = _crossing(at_n, "compute", tau, n_boot)
                if headline == BEHAVIOUR:
                    preds.append(Prediction(str(env_id), str(kw), mech, "compute", {"params": float(n)}, "behaviour",
                                            est, iv, used, note=note))  # fmt: skip
                else:  # along compute too, the behaviour forecast is on the plateau-free kind
                    kind = rows_of(g, headline, "off")
                    k_est, k_iv, k_note = _crossing(kind[kind.params == n], "compute", tau, n_boot)
                    preds.append(Prediction(str(env_id), str(kw), mech, "compute", {"params": float(n)}, "behaviour",
                                            k_est, k_iv, used, note=k_note, metric=headline))  # fmt: skip
                    preds.append(Prediction(str(env_id), str(kw), mech, "compute", {"params": float(n)},
                                            "behaviour_pooled", est, iv, used, note=note))  # fmt: skip
                if surf is not None and not surf.rejected:
                    # The contour's timesteps at N, as compute: log10 κ + log10 N + log10 T(N).
                    shift = math.log10(surf.kappa) + math.log10(n)
                    t_c = float(surf.contour(np.array([math.log10(n)]))[0]) + shift
                    cband = surf.contour_band(np.array([math.log10(n)]))
                    iv_c = (float(cband[0][0]) + shift, float(cband[1][0]) + shift) if cband else (math.nan, math.nan)
                    preds.append(Prediction(str(env_id), str(kw), mech, "compute", {"params": float(n)}, "surface",
                                            t_c, iv_c, used))  # fmt: skip
    from importlib.metadata import version

    hashed = hashed_columns(done)

    doc: dict[str, Any] = {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "bestiary": version("bestiary"),
        "tau": tau,
        "metric": BEHAVIOUR,
        "condition": "off",
        "context": context,
        "hashed": hashed,
        "organisms": organism_hashes(done, hashed),
        "predictions": [_jsonable(asdict(p)) for p in preds],
    }
    above = hindsight(done, context.get("sealed_below") or {})
    if above:
        doc["hindsight"] = (
            f"{above} of the organisms this forecast was made from lie above its own stated bounds "
            f"({context['sealed_below']}): it saw part of what it forecasts"
        )
    doc["sha256"] = _self_hash(doc)
    return doc


def hindsight(done: pd.DataFrame, bounds: dict[str, Any]) -> int:
    """How many organisms of a table lie above a forecast's stated bounds (``params``, ``timesteps``, ``compute``)."""
    above = pd.Series(False, index=done.index)
    for col in ("params", "timesteps", "compute"):
        if bounds.get(col) is not None and col in done:
            above |= done[col].astype(float) > float(bounds[col]) * (1 + 1e-9)
    return int(done.loc[above, "trial_id"].nunique()) if above.any() else 0


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    """Strict JSON: nan (no estimate) as null, an open end as the string ``"inf"`` or ``"-inf"``."""

    def fix(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
        if isinstance(v, (tuple, list)):
            return [fix(x) for x in v]
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        return v

    return {k: fix(v) for k, v in d.items()}


def verify(doc: Any) -> dict[str, Any]:
    """The forecast if its format and self-hash check out.

    Raises:
        ForecastError: If the file is not a forecast or was changed after it was written.
    """
    if not isinstance(doc, dict) or doc.get("format") not in READABLE_FORMATS:
        raise ForecastError(f"not a Bestiary forecast (expected format {FORMAT!r})")
    if doc.get("sha256") != _self_hash(doc):
        raise ForecastError(
            "the forecast file was changed after it was written (its sha256 does not match its content): "
            "a sealed forecast cannot be edited — make a new one"
        )
    return doc


def number(v: Any) -> float:
    """A number of a forecast file: null is nan (no estimate), ``"inf"`` / ``"-inf"`` an open end."""
    if v is None:
        return math.nan
    if isinstance(v, str) and v in ("inf", "-inf"):
        return math.inf if v == "inf" else -math.inf
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ForecastError(f"not a number in the forecast file: {v!r} (expected a number, null, 'inf' or '-inf')")
    return float(v)
