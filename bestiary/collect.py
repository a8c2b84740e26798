"""``bestiary collect``: run directories → the results table (Contract 3), as parquet and CSV.

One row per (trial, condition, metric)::

    sweep, trial_id, env_id, failure_mode, env_kwargs (json), algo, params, width, depth,
    timesteps, seed, condition, metric, value, successes, trials, status

Rates carry their episode counts in ``successes``/``trials`` (so fits can use the
binomial likelihood); continuous metrics leave them empty. A trial that is not done
contributes one row with ``metric = "status"`` and its state, so partial sweeps are
visible. Only JSON is read from run directories, without following links.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from bestiary.sandbox.outputs import read_json as read_json_output

COLUMNS = [
    "sweep", "trial_id", "env_id", "failure_mode", "env_kwargs", "algo", "params", "width", "depth",
    "timesteps", "seed", "condition", "metric", "value", "successes", "trials", "status",
]  # fmt: skip

#: Rate metrics of ``metrics.json`` behaviour blocks: metric name → (successes key, trials key).
RATES = {"violation_rate": ("violations", "episodes"), "task_success_rate": ("task_successes", "episodes")}
CONTINUOUS_BEHAVIOUR = ("observed_return", "hidden_return")


def trial_rows(run_dir: Path, sweep: str) -> list[dict[str, Any]]:
    """The rows of one run directory ([] if it is not a trial's)."""
    trial = read_json_output(run_dir, "trial.json")
    if trial is None:
        return []
    status = read_json_output(run_dir, "status.json") or {}
    state = status.get("state", "pending")
    base = {
        "sweep": sweep,
        "trial_id": trial["trial_id"],
        "env_id": trial["env_id"],
        "failure_mode": trial["failure_mode"],
        "env_kwargs": json.dumps(trial["env_kwargs"], sort_keys=True),
        "algo": trial["algo"],
        "params": trial["params"],
        "width": trial["width"],
        "depth": trial["depth"],
        "timesteps": trial["timesteps"],
        "seed": trial["seed"],
        "status": state,
    }
    metrics = read_json_output(run_dir, "metrics.json") if state == "done" else None
    if metrics is None:
        return [
            {
                **base,
                "condition": "",
                "metric": "status",
                "value": float("nan"),
                "successes": None,
                "trials": None,
                "status": state if state != "done" else "missing_metrics",
                "reason": status.get("reason"),
            }
        ]
    rows = []
    for condition, block in metrics["behaviour"].items():
        for metric, (succ, n) in RATES.items():
            rows.append(
                {
                    **base,
                    "condition": condition,
                    "metric": metric,
                    "value": block[metric],
                    "successes": block[succ],
                    "trials": block[n],
                }
            )
        for metric in CONTINUOUS_BEHAVIOUR:
            rows.append(
                {
                    **base,
                    "condition": condition,
                    "metric": metric,
                    "value": block[metric],
                    "successes": None,
                    "trials": None,
                }
            )
    rows.append(
        {
            **base,
            "condition": "gap",
            "metric": "misalignment_gap",
            "value": metrics["misalignment_gap"],
            "successes": None,
            "trials": None,
        }
    )
    for metric, value in metrics["precursors"].items():
        if metric != "probes":
            rows.append(
                {**base, "condition": "probe", "metric": metric, "value": value, "successes": None, "trials": None}
            )
    return rows


def collect(runs_dir: Path | str) -> pd.DataFrame:
    """The results table of every trial under ``runs_dir`` (a sweep's directory, or a parent of several).

    Raises:
        FileNotFoundError: If ``runs_dir`` does not exist.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"{runs_dir} is not a directory of runs")
    rows: list[dict[str, Any]] = []
    trial_dirs = sorted(p.parent for p in runs_dir.rglob("trial.json") if not p.parent.is_symlink())
    for d in trial_dirs:
        rows += trial_rows(d, d.parent.name)  # runs/<sweep>/<trial-id>/
    df = pd.DataFrame(rows)
    if not df.empty:
        # Two sweeps under one directory can hold the same trial (same resolved spec, hence the same id
        # and, by reproducibility, the same organism): count it once.
        df = df.drop_duplicates(subset=["trial_id", "condition", "metric"], keep="first")
    if df.empty:
        return pd.DataFrame(columns=[*COLUMNS, "reason"])
    for col in ("successes", "trials"):
        df[col] = df[col].astype("Int64")
    if "reason" not in df:
        df["reason"] = None
    return df[[*COLUMNS, "reason"]]


def write_results(df: pd.DataFrame, out_stem: Path | str) -> tuple[Path, Path]:
    """Write ``<stem>.parquet`` and ``<stem>.csv``."""
    stem = Path(out_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    parquet, csv = stem.with_suffix(".parquet"), stem.with_suffix(".csv")
    df.to_parquet(parquet, index=False)
    df.to_csv(csv, index=False)
    return parquet, csv
