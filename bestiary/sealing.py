"""A sweep's sealed forecasts: each written from the organisms at or below its level, before any above it exists.

With a ``forecast:`` section, :func:`bestiary.sweep.run_sweep` trains the organisms at or
below the first level, calls :func:`seal`, trains on to the next level, and so on
(:mod:`bestiary.phases`). A seal's file (``runs/<sweep>/forecast.json``, or
``forecast-K.json`` for several levels) is written once and never overwritten; it records its
level and how many of the organisms above it already existed when it was sealed (none, when the
sweep ran in order), so a forecast made after the answer was known says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from bestiary.analysis.schema import COLUMNS, EXTRA_COLUMNS
from bestiary.git_record import first_commit, git, repository
from bestiary.organisms.sweepdir import SweepDir
from bestiary.sweep_spec import ForecastSpec


def log_forecast(root: Path, doc: dict[str, Any], path: Path) -> None:
    """Append a forecast to the directory's log, so that trying several τ (or several forecasts) shows."""
    line = {"created": doc.get("created"), "sha256": doc.get("sha256"), "tau": doc.get("tau"),
            "organisms": len(doc.get("organisms", {})), "file": str(path)}  # fmt: skip
    SweepDir(root).log_forecast(line)


def forecast_log_note(root: Path) -> str:
    """What the directory's forecast log says about how many forecasts were made (empty if one or none)."""
    log = SweepDir(root).forecast_log
    if not log.is_file():
        return ""
    entries = []
    for text in log.read_text().splitlines()[:10_000]:
        try:
            entries.append(json.loads(text))
        except ValueError:
            return f"{log}: a line is not JSON — the log was edited"
    refused = [e for e in entries if isinstance(e, dict) and "refused" in e]
    made = [e for e in entries if not (isinstance(e, dict) and "refused" in e)]
    note = f"{len(refused)} seal(s) refused ({str(refused[-1]['refused'])[:300]}); " if refused else ""
    if len(made) <= 1:
        return note.rstrip("; ")
    taus = sorted({str(e.get("tau")) for e in made if isinstance(e, dict)})
    return note + f"{len(made)} forecasts were made from this sweep's organisms (τ = {', '.join(taus)}; {log})"


def seal_status(path: Path) -> str:
    """Whether a forecast file's time of making is recorded where its maker cannot rewrite it: a git commit.

    Returns a sentence: sealed by the commit that added it (and unchanged since), changed since
    that commit, or unsealed (not in a repository, or never committed).
    """
    if repository(path) is None:
        return (
            "unsealed: the forecast is not in a git repository, so nothing its maker cannot rewrite records when "
            "it was made (commit it before training the organisms it forecasts)"
        )
    added = first_commit(path)
    if added is None:
        return "unsealed: the forecast was never committed (commit it before training the organisms it forecasts)"
    commit, when = added
    committed = git(path, "show", f"{commit}:./{path.name}")
    if committed is None or committed != path.read_text().strip():
        return f"changed since commit {commit[:10]} ({when}) added it: the committed version is the sealed one"
    return f"sealed by commit {commit[:10]} ({when}); the organisms it is scored on must be committed after it"


def seal(spec: ForecastSpec, root: Path, k: int, before: list[Any], after: list[Any]) -> tuple[Path, bool]:
    """Write seal ``k`` from the planned trials ``before`` (every one at or below its level), unless it exists.

    Args:
        spec: The sweep's forecast section.
        root: The sweep's directory.
        k: The seal (1-based) among the spec's levels.
        before: Planned trials at or below the level (``PlannedTrial``).
        after: The other planned trials (how many of them are done already is recorded: 0 when honest).

    Returns:
        (path, whether it was written now).
    """
    from bestiary.analysis.sealed import make_forecast
    from bestiary.collect import trial_rows

    sweep_dir = SweepDir(root)
    levels = spec.levels()
    path = sweep_dir.seal(k, len(levels))
    if path.exists():
        return path, False
    rows = [r for p in before for r in trial_rows(p.run_dir, root.name)]
    table = pd.DataFrame(rows, columns=[*COLUMNS, *EXTRA_COLUMNS])
    already = sum(p.run_dir.exists() and p.run_dir.status().state == "done" for p in after)
    doc = make_forecast(
        table,
        tau=spec.tau,
        budgets=sorted({float(p.trial.timesteps) for p in [*before, *after]}),
        context={
            "seal": k,
            "seals": len(levels),
            "sealed_below": levels[k - 1],
            "organisms_beyond_already_trained": already,
            "organisms_beyond_planned": len(after),
        },
    )
    sweep_dir.write_forecast(doc, path)  # exclusive: never overwrites a sealed forecast
    log_forecast(root, doc, path)
    return path, True
