"""Exporting a seal into the repository: the forecast, the exact table it was made from, and how to go on.

A study run in pieces commits each seal before training past it, so that the repository's
history proves the order "sealed, then trained" (:mod:`bestiary.git_record`). The exported
folder (e.g. ``docs/results/<study>/seal-1/``) holds:

- ``forecast.json``: the seal, byte for byte as the sweep wrote it;
- ``table.csv``: the results rows of exactly the organisms it was made from, checked against
  the hashes the seal recorded (so the folder alone shows what the forecaster saw);
- ``sweep.yaml``: the spec the sweep ran;
- ``README.md``: what it is, and the commands that go on and score it.

A folder that holds another seal is never overwritten.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bestiary.analysis.sealed import ForecastError, organism_hashes, verify
from bestiary.collect import collect
from bestiary.organisms.files import write_atomic
from bestiary.organisms.sweepdir import FORECAST, SPEC_COPY, SweepDir
from bestiary.sandbox.outputs import MalformedOutputError, parse_json
from bestiary.sweep_spec import describe_level

#: The exported folder's files.
FORECAST_FILE, TABLE_FILE, SPEC_FILE, README_FILE = FORECAST, "table.csv", SPEC_COPY, "README.md"
MAX_SEAL_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Exported:
    """An exported seal: its folder, its files, and whether they were written now (False: exported before)."""

    folder: Path
    files: tuple[Path, ...]
    written: bool


def read_seal(path: Path) -> dict:
    """A seal's forecast, parsed with limits and verified (format and self-hash).

    Raises:
        ForecastError: If it is missing, malformed, or changed since it was written.
    """
    try:
        return verify(parse_json(path.read_bytes(), max_bytes=MAX_SEAL_BYTES))
    except OSError as exc:
        raise ForecastError(f"cannot read the seal {path}: {exc.strerror or exc}") from exc
    except MalformedOutputError as exc:
        raise ForecastError(f"{path} is not a forecast: {exc}") from exc


def seal_path(sweep_dir: SweepDir, k: int) -> Path:
    """Seal ``k``'s file in a sweep's directory.

    Raises:
        ForecastError: If there is no such seal (listing the seals there are).
    """
    for doc_k, path in sweep_dir.seals():
        if doc_k == k:
            return path
    there = ", ".join(p.name for _, p in sweep_dir.seals()) or "none"
    raise ForecastError(f"{sweep_dir.path} has no seal {k} (seals there: {there}); run the sweep to it first "
                        f"(bestiary sweep SPEC --until-seal {k})")  # fmt: skip


def seal_table(doc: dict, runs: Path) -> pd.DataFrame:
    """The rows of exactly the organisms a seal used, from a sweep's run directories, checked against its hashes.

    Raises:
        ForecastError: If an organism it used is missing or its results changed.
    """
    table = collect(runs)
    used: dict[str, str] = doc["organisms"]
    rows = table[table.trial_id.astype(str).isin(used) & (table.status == "done")]
    now = organism_hashes(rows, list(doc.get("hashed") or [])) if not rows.empty else {}
    missing = sorted(set(used) - set(now))
    changed = sorted(t for t in now if now[t] != used[t])
    if missing or changed:
        raise ForecastError(
            f"the seal's organisms are not all here as it saw them ({len(missing)} missing, e.g. "
            f"{(missing or ['-'])[0]}; {len(changed)} changed, e.g. {(changed or ['-'])[0]}): rerun the sweep to "
            "rebuild missing ones, or export from the directory the seal was made in"
        )
    return rows.reset_index(drop=True)


def export_seal(runs: Path, k: int, folder: Path) -> Exported:
    """Write seal ``k`` of the sweep in ``runs`` with the table it was made from into ``folder`` (to be committed).

    Raises:
        ForecastError: If the seal is missing or tampered, its organisms are not all present as it saw
            them, or ``folder`` holds another seal.
    """
    sweep_dir = SweepDir(runs)
    source = seal_path(sweep_dir, k)
    doc = read_seal(source)
    data = source.read_bytes()
    target = folder / FORECAST_FILE
    if target.exists():
        if target.read_bytes() == data:
            return Exported(folder, tuple(sorted(folder.iterdir())), written=False)
        raise ForecastError(f"{folder} holds another seal ({target}): a seal is never overwritten — export into a "
                            "new folder")  # fmt: skip
    rows = seal_table(doc, runs)
    buffer = io.StringIO()
    rows.to_csv(buffer, index=False)
    check = pd.read_csv(io.StringIO(buffer.getvalue()), dtype={"env_kwargs": str, "trial_id": str})
    if organism_hashes(check, list(doc.get("hashed") or [])) != doc["organisms"]:  # the CSV must be the same table
        raise ForecastError("the table does not read back as the seal saw it: not exported")
    ctx = doc.get("context") or {}
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / TABLE_FILE, buffer.getvalue().encode())
    write_atomic(folder / SPEC_FILE, (sweep_dir.spec_copy() or "").encode())
    write_atomic(folder / README_FILE, _readme(doc, ctx, k, sweep_dir.name, folder).encode())
    write_atomic(target, data)  # last: a folder with forecast.json is complete
    return Exported(folder, tuple(folder / f for f in (FORECAST_FILE, TABLE_FILE, SPEC_FILE, README_FILE)), True)


def _readme(doc: dict, ctx: dict, k: int, sweep: str, folder: Path) -> str:
    level = ctx.get("sealed_below")
    level_text = describe_level(level) if isinstance(level, dict) else "its bounds"
    later = ctx.get("seals", 1)
    go_on = (
        f"bestiary sweep SPEC --until-seal {k + 1}" if isinstance(later, int) and k < later else "bestiary sweep SPEC"
    )
    return f"""# Seal {k} of sweep `{sweep}`

Forecast sealed {doc.get("created")} from {len(doc.get("organisms", {}))} organisms at or below
{level_text}; {ctx.get("organisms_beyond_already_trained", "?")} of the {ctx.get("organisms_beyond_planned", "?")}
organisms above it existed when it was sealed. sha256 of the forecast: `{doc.get("sha256")}`.

- `{FORECAST_FILE}`: the seal, byte for byte as the sweep wrote it.
- `{TABLE_FILE}`: the results of exactly the organisms it was made from (their hashes match the seal's).
- `{SPEC_FILE}`: the sweep's spec.

Commit this folder before training on (`{go_on}`). Once the organisms above it exist, collect them into
the repository, commit, and score against the committed table — the score says whether git proves the order:

    bestiary collect RUNS/{sweep} --out {folder.parent}/results
    bestiary score {folder / FORECAST_FILE} {folder.parent}/results.parquet
"""
