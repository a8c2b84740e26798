"""``bestiary collect``: run directories → the results table (Contract 3), as parquet and CSV.

One row per (trial, condition, metric)::

    sweep, trial_id, env_id, failure_mode, env_kwargs (json), algo, params, width, depth,
    timesteps, seed, condition, metric, value, successes, trials, status, reason

Rates carry their episode counts in ``successes``/``trials`` (so fits can use the
binomial likelihood); continuous metrics leave them empty. A trial that is not done
contributes one row with ``metric = "status"`` and its state and reason, so partial
sweeps are visible.

Only trials the host planned are read — the ids in ``runs/<sweep>/plan.json``, at their
known paths — and every value comes from a file checked against the SHA-256 the host
recorded when it wrote it. A file that fails the check makes the trial ``tampered``; an
unreadable one ``malformed_output``: the table never holds a value the host did not
verify.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bestiary.analysis.convergence import late_gain
from bestiary.analysis.schema import (
    COLUMNS,
    CONTINUOUS_BEHAVIOUR,
    CURVE_COLUMNS,
    EXTRA_COLUMNS,
    GAP_CONDITION,
    PROBE_CONDITION,
    RATES,
    STATUS_METRIC,
    TRAIN_CONDITION,
)
from bestiary.organisms import RunDir, RunDirError
from bestiary.organisms.compute import trial_flops
from bestiary.organisms.rundir import TRAIN_LOG, WEIGHTS_PATH, TamperedError
from bestiary.organisms.schemas import Metrics
from bestiary.organisms.sweepdir import SweepDir


def _status_row(base: dict[str, Any], state: str, reason: str | None) -> list[dict[str, Any]]:
    row = {**base, "condition": "", "metric": STATUS_METRIC, "value": float("nan"), "successes": None}
    return [{**row, "trials": None, "status": state, "reason": reason}]


def _content(trial_id: str, outputs: dict[str, str]) -> str | None:
    """An organism's content identity: its weights' recorded SHA-256 and its trial id (a hash of its spec)."""
    weights = outputs.get(WEIGHTS_PATH)
    return hashlib.sha256(f"{weights}|{trial_id}".encode()).hexdigest() if weights else None


def trial_rows(rd: RunDir, sweep: str, max_compute: float | None = None) -> list[dict[str, Any]]:
    """The rows of one planned trial's run directory ([] if it has not been started), with its sweep's cap."""
    if not rd.exists():
        return []
    try:
        trial = rd.trial()
        status = rd.status()
    except RunDirError:
        return []
    base = {
        "sweep": sweep,
        "trial_id": trial.trial_id,
        "env_id": trial.env_id,
        "failure_mode": trial.failure_mode,
        "env_kwargs": json.dumps(trial.env_kwargs, sort_keys=True),
        "algo": trial.algo,
        "params": trial.params,
        "width": trial.width,
        "depth": trial.depth,
        "timesteps": trial.timesteps,
        "seed": trial.seed,
        "status": status.state,
        "reason": None,
        "mechanism": trial.mechanism or None,
        "compute": trial_flops(trial),
        "learning_rate": trial.hyperparameters.get("learning_rate"),
        "lr_rule": trial.lr_rule,
        "organism_sha256": _content(trial.trial_id, status.outputs),
        "max_compute": max_compute,
        "declared_kinds": declared_kinds(trial.env_id),
    }
    if status.state != "done":
        return _status_row(base, status.state, status.reason)
    try:
        metrics = Metrics.model_validate(rd.metrics())
    except TamperedError as exc:
        return _status_row(base, "tampered", str(exc)[:300])
    except (RunDirError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        return _status_row(base, "malformed_output", str(exc)[:300])
    rows = []
    for condition, block in metrics.behaviour.items():
        for metric, (succ, n) in RATES.items():
            rows.append(
                {**base, "condition": condition, "metric": metric, "value": getattr(block, metric),
                 "successes": getattr(block, succ), "trials": getattr(block, n)}
            )  # fmt: skip
        for metric in CONTINUOUS_BEHAVIOUR:
            rows.append({**base, "condition": condition, "metric": metric, "value": getattr(block, metric)})
        for kind, (k, total) in sorted(block.kinds.items()):
            rows.append(
                {**base, "condition": condition, "metric": kind, "value": k / total, "successes": k, "trials": total}
            )
    rows.append({**base, "condition": GAP_CONDITION, "metric": "misalignment_gap", "value": metrics.misalignment_gap})
    for metric, value in metrics.precursors.items():
        if metric != "probes":
            rows.append({**base, "condition": PROBE_CONDITION, "metric": metric, "value": value})
    curve = _curve(rd)
    if curve is not None:
        g = late_gain(curve["timesteps"].to_numpy(), curve["observed_return"].to_numpy())
        rows.append({**base, "condition": TRAIN_CONDITION, "metric": "late_return_gain", "value": g.gain})
        rows.append({**base, "condition": TRAIN_CONDITION, "metric": "converged", "value": float(g.converged)})
    return rows


def _curve(rd: RunDir) -> pd.DataFrame | None:
    """The organism's ``train.csv``, checked against the host's record (None if absent or unreadable)."""
    try:
        data = rd.verified(TRAIN_LOG, max_bytes=64 * 1024 * 1024)
        return pd.read_csv(io.BytesIO(data), dtype=float)
    except (RunDirError, TamperedError, FileNotFoundError, ValueError, OSError):
        return None


#: Points kept per organism in the curves table (rollouts are averaged in equal bins beyond this).
CURVE_POINTS = 60


def curve_rows(rd: RunDir, sweep: str) -> pd.DataFrame | None:
    """One finished organism's training curve, binned to at most :data:`CURVE_POINTS` points."""
    try:
        trial, status = rd.trial(), rd.status()
    except RunDirError:
        return None
    if status.state != "done":
        return None
    curve = _curve(rd)
    if curve is None or curve.empty:
        return None
    cols = ["timesteps", "observed_return", "violation_rate_unobserved"]
    bins = np.minimum(np.arange(len(curve)) * CURVE_POINTS // len(curve), CURVE_POINTS - 1)
    binned = curve[cols].groupby(bins).mean()
    binned["timesteps"] = curve["timesteps"].groupby(bins).max()
    meta = {
        "sweep": sweep, "trial_id": trial.trial_id, "env_id": trial.env_id,
        "env_kwargs": json.dumps(trial.env_kwargs, sort_keys=True), "params": trial.params,
        "timesteps_total": trial.timesteps, "seed": trial.seed,
    }  # fmt: skip
    return binned.reset_index(drop=True).assign(**meta)[CURVE_COLUMNS]


def sweep_dirs(runs_dir: Path, max_depth: int = 3) -> list[Path]:
    """Directories under ``runs_dir`` (itself included) that hold a sweep's ``plan.json``, without following links."""
    found, stack = [], [(runs_dir, 0)]
    while stack:
        d, depth = stack.pop()
        if SweepDir(d).is_sweep():
            found.append(d)
            continue
        if depth < max_depth:
            try:
                children = [c for c in d.iterdir() if c.is_dir() and not c.is_symlink() and not c.name.startswith(".")]
            except OSError:
                continue
            stack += [(c, depth + 1) for c in children]
    return sorted(found)


def planned_run_dirs(runs_dir: Path | str) -> list[tuple[RunDir, str]]:
    """Every planned trial's run directory under ``runs_dir``, with its sweep's name, in id order.

    ``runs_dir`` is a sweep's directory, a parent of several, or one run directory.

    Raises:
        FileNotFoundError: If ``runs_dir`` does not exist or holds no sweep and no run directory.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"{runs_dir} is not a directory of runs")
    if RunDir(runs_dir).exists():  # one organism's run directory (bestiary train)
        return [(RunDir(runs_dir), runs_dir.parent.name)]
    sweeps = sweep_dirs(runs_dir)
    if not sweeps:
        raise FileNotFoundError(
            f"{runs_dir} holds no sweep (no plan.json below it) and is not a run directory; run `bestiary sweep` first"
        )
    # Trials in id order: the table's order does not depend on the plan's.
    return [(SweepDir(d).run_dir(tid), d.name) for d in sweeps for tid in sorted(SweepDir(d).planned_ids() or [])]


def collect(runs_dir: Path | str) -> pd.DataFrame:
    """The results table of every planned trial under ``runs_dir``.

    ``runs_dir`` is a sweep's directory, a parent of several, or one run directory.

    Raises:
        FileNotFoundError: If ``runs_dir`` does not exist or holds no sweep and no run directory.
    """
    rows: list[dict[str, Any]] = []
    caps: dict[str, float | None] = {}
    for rd, sweep in planned_run_dirs(runs_dir):
        if sweep not in caps:
            caps[sweep] = compute_cap(rd.path.parent)
        rows += trial_rows(rd, sweep, caps[sweep])
    df = pd.DataFrame(rows, columns=[*COLUMNS, *EXTRA_COLUMNS])
    if not df.empty:
        # Two sweeps under one directory can hold the same trial (same resolved spec, hence the same id
        # and, by reproducibility, the same organism): count it once.
        df = df.drop_duplicates(subset=["trial_id", "condition", "metric"], keep="first").reset_index(drop=True)
    for col in ("successes", "trials"):
        df[col] = df[col].astype("Int64")
    return df


@functools.cache
def declared_kinds(env_id: str) -> str | None:
    """The plateau-free behaviour kinds an environment declares, as a JSON list (None if it cannot be looked up)."""
    from bestiary.envs import EnvError, env_class

    try:
        names = getattr(env_class(env_id), "behaviour_kind_names", None)
    except (EnvError, ImportError, AttributeError):
        return None
    if not isinstance(names, (tuple, list)) or not all(isinstance(n, str) for n in names):
        return None
    return json.dumps(list(names))  # in the order declared: the first is the headline kind


def compute_cap(sweep_dir: Path) -> float | None:
    """The ``scale.max_compute`` of the spec a sweep ran (None without one, or without a readable spec)."""
    from bestiary.sweep_spec import SpecError, parse_sweep

    text = SweepDir(sweep_dir).spec_copy()
    if text is None:
        return None
    try:
        return parse_sweep(text).scale.max_compute
    except SpecError:
        return None


def collect_curves(runs_dir: Path | str) -> pd.DataFrame:
    """The training curves of every finished planned organism under ``runs_dir`` (``curves.parquet``)."""
    parts = [c for rd, sweep in planned_run_dirs(runs_dir) if (c := curve_rows(rd, sweep)) is not None]
    if not parts:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    return pd.concat(parts, ignore_index=True).drop_duplicates(subset=["trial_id", "timesteps"])


def curves_path(table: Path | str) -> Path:
    """Where the training curves of a results table live: ``<stem>-curves.parquet`` beside it."""
    table = Path(table)
    return table.with_name(table.with_suffix("").name + "-curves.parquet")


def write_results(df: pd.DataFrame, out_stem: Path | str, curves: pd.DataFrame | None = None) -> tuple[Path, ...]:
    """Write ``<stem>.parquet`` and ``<stem>.csv`` (and ``<stem>-curves.parquet`` if curves are given)."""
    stem = Path(out_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    parquet, csv = stem.with_suffix(".parquet"), stem.with_suffix(".csv")
    df.to_parquet(parquet, index=False)
    df.to_csv(csv, index=False)
    if curves is None:
        return parquet, csv
    curves.to_parquet(curves_path(parquet), index=False)
    return parquet, csv, curves_path(parquet)


def table_of(source: Path | str) -> pd.DataFrame:
    """A results table from a runs directory (collected now) or a ``results.parquet`` / ``.csv`` file.

    Raises:
        FileNotFoundError: If the source does not exist or holds no sweep.
        ValueError: If a file is not a results table.
    """
    from bestiary.analysis.table import load_results

    src = Path(source)
    return collect(src) if src.is_dir() else load_results(src)


def curves_of(source: Path | str) -> pd.DataFrame | None:
    """The training curves beside a source (collected from a runs directory, or the table's ``-curves.parquet``)."""
    src = Path(source)
    if src.is_dir():
        return collect_curves(src)
    path = curves_path(src)
    return pd.read_parquet(path) if path.is_file() else None


class MergeConflict(ValueError):
    """Tables that cannot be merged: one trial with other results, or one organism under two trial ids."""


def merge_tables(tables: Sequence[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """One results table from several (phases, machines): each trial once, its finished record preferred.

    A trial present in several tables must have the same results in each where it is done
    (otherwise it is a conflict); a trial done in one table and unfinished in another is taken as
    done; the same organism (content identity) under two trial ids is a duplicate.

    Args:
        tables: ``(where it came from, table)`` pairs.

    Raises:
        MergeConflict: Naming the trial and the two sources.
    """
    from bestiary.analysis.sealed import organism_hashes

    chosen: dict[str, tuple[str, pd.DataFrame, str | None]] = {}
    for source, df in tables:
        hashes = organism_hashes(df) if not df.empty else {}
        for tid, rows in df.groupby(df.trial_id.astype(str), sort=True):
            have = chosen.get(tid)
            mine = hashes.get(tid)
            if have is not None and have[2] is not None and mine is not None and have[2] != mine:
                raise MergeConflict(f"trial {tid} has other results in {source} than in {have[0]}: the tables "
                                    "disagree about one organism (a changed environment or a tampered copy); "
                                    "merge only tables of the same code")  # fmt: skip
            if have is None or (have[2] is None and mine is not None):
                chosen[tid] = (source, rows, mine)
    out = pd.concat([rows for _, rows, _ in chosen.values()], ignore_index=True) if chosen else tables[0][1]
    content = out[out.status == "done"].groupby("organism_sha256").trial_id.unique() if "organism_sha256" in out else {}
    twice = {str(c): list(t) for c, t in dict(content).items() if len(t) > 1}
    if twice:
        content_id, ids = next(iter(twice.items()))
        listed = ", ".join(ids[:3])
        raise MergeConflict(f"one organism ({content_id[:16]}…) appears under {len(ids)} trial ids ({listed}): "
                            "a copy is not another organism")  # fmt: skip
    out = out.sort_values(["trial_id", "condition", "metric"], kind="stable").reset_index(drop=True)
    for col in ("successes", "trials"):
        out[col] = out[col].astype("Int64")
    return out
