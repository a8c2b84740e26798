"""Loading the results table (Contract 3) from parquet or CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bestiary.analysis.schema import COLUMNS as CONTRACT_COLUMNS


def load_results(path: Path | str) -> pd.DataFrame:
    """A results table from ``.parquet`` or ``.csv`` (``bestiary collect`` makes both from a runs directory).

    Raises:
        FileNotFoundError: If the path does not exist.
        ValueError: If the file is not a results table (a runs directory must be collected first).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist (expected results.parquet or results.csv)")
    if path.is_dir():
        raise ValueError(f"{path} is a directory: collect it into a table first (bestiary collect {path})")
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    elif path.suffix == ".csv":
        df = pd.read_csv(path, dtype={"env_kwargs": str})
    else:
        raise ValueError(f"{path}: expected a .parquet or .csv results table (bestiary collect writes both)")
    missing = [c for c in CONTRACT_COLUMNS if c not in df]
    if missing:
        raise ValueError(f"{path} is not a results table: missing column(s) {', '.join(missing)} (Contract 3)")
    df["env_kwargs"] = df["env_kwargs"].fillna("{}").astype(str)
    return df


def declared_kinds(df: pd.DataFrame) -> list[str] | None:
    """The behaviour kinds a table's environments declare (``declared_kinds``), in declared order.

    None for a table without the column (collected before environments declared their kinds); a
    malformed entry declares nothing.
    """
    if "declared_kinds" not in df or not df["declared_kinds"].notna().any():
        return None
    out: list[str] = []
    for text in df["declared_kinds"].dropna().astype(str).unique():
        try:
            names = json.loads(text)
        except ValueError:
            continue
        out += [str(n) for n in names if str(n) not in out] if isinstance(names, list) else []
    return out


def variant_label(env_id: str, env_kwargs: str) -> str:
    """``env_id`` plus its non-default knobs, for titles."""
    try:
        kw = json.loads(env_kwargs) if env_kwargs else {}
    except json.JSONDecodeError:
        kw = {}
    return env_id + (" [" + ", ".join(f"{k}={v}" for k, v in sorted(kw.items())) + "]" if kw else "")
