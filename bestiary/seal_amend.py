"""Amending a committed seal: its forecast remade by later code from the seal's own committed table, and nothing else.

A seal found to break its study's design after it was committed (a bug in how it forecast) is
never edited: the original stays, byte for byte, and is scored as it is. An amendment is a new
seal beside it, made by the fixed code from exactly the organisms the original used — the
committed ``table.csv``, checked against the original's hashes — so it cannot have seen any
organism above the level, however many exist on disk by then. It records what it amends and why,
and it is committed, like any seal, before the results it will be scored on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bestiary.analysis.sealed import ForecastError, make_forecast, organism_hashes
from bestiary.organisms.files import write_atomic, write_new
from bestiary.organisms.ladder import geometric_timesteps
from bestiary.seal_export import FORECAST_FILE, README_FILE, SPEC_FILE, TABLE_FILE, Exported, read_seal
from bestiary.sweep_spec import SpecError, StepsRange, load_sweep


def amend_seal(folder: Path, out: Path, why: str, n_boot: int = 100) -> Exported:
    """Remake the committed seal in ``folder`` from its own table with this code, into ``out`` (to be committed).

    Args:
        folder: An exported seal (``forecast.json``, ``table.csv``, ``sweep.yaml``).
        out: A new folder for the amendment (never one holding a seal).
        why: What was wrong with the original, in a sentence (recorded in the amendment).
        n_boot: Bootstrap draws per fit (the sweep's seals use the default).

    Raises:
        ForecastError: If the original is missing or tampered, its table is not the one it used, ``out``
            holds a seal, or the remade forecast would not use exactly the original's organisms.
    """
    if not why.strip():
        raise ForecastError("say why the seal is amended (--why): an amendment without a reason proves nothing")
    if (out / FORECAST_FILE).exists():
        raise ForecastError(f"{out} holds a seal already: an amendment is never overwritten — choose a new folder")
    original = read_seal(folder / FORECAST_FILE)
    try:
        table = pd.read_csv(folder / TABLE_FILE, dtype={"env_kwargs": str, "trial_id": str})
        spec = load_sweep(folder / SPEC_FILE)
    except (OSError, ValueError, SpecError) as exc:
        raise ForecastError(f"{folder}: not an exported seal ({exc})") from exc
    if organism_hashes(table, list(original.get("hashed") or [])) != original["organisms"]:
        raise ForecastError(f"{folder / TABLE_FILE} is not the table the seal was made from (its hashes differ)")
    steps = spec.scale.timesteps
    budgets = geometric_timesteps(steps.min, steps.max, steps.rungs) if isinstance(steps, StepsRange) else []
    context = {k: v for k, v in (original.get("context") or {}).items() if k != "organisms_beyond_already_trained"}
    context["amends"] = {"sha256": original["sha256"], "created": original["created"], "why": why.strip()}
    doc = make_forecast(table, tau=float(original["tau"]), n_boot=n_boot, context=context, budgets=budgets)
    if doc["organisms"] != original["organisms"]:
        raise ForecastError("the remade forecast does not use exactly the original's organisms: not written")
    out.mkdir(parents=True, exist_ok=True)
    for name in (TABLE_FILE, SPEC_FILE):
        write_atomic(out / name, (folder / name).read_bytes())
    write_atomic(out / README_FILE, _readme(doc, original, folder, why).encode())
    write_new(out / FORECAST_FILE, (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode())  # last, exclusive
    return Exported(out, tuple(out / f for f in (FORECAST_FILE, TABLE_FILE, SPEC_FILE, README_FILE)), True)


def _readme(doc: dict, original: dict, folder: Path, why: str) -> str:
    return f"""# Amendment of the seal in `{folder}`

Remade {doc["created"]} by later code from the original seal's own committed table — exactly its
{len(doc["organisms"])} organisms, checked against its hashes — and nothing else; no organism above its
level was read. The original (sha256 `{original["sha256"]}`, sealed {original["created"]}) stays as it
is and is scored as it is, beside this one.

Why: {why.strip()}

sha256 of the amendment: `{doc["sha256"]}`. Commit this folder before the results it is scored on.
"""
