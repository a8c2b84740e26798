"""A sweep's sealed forecast: written from the organisms below the bounds, before any other organism is trained.

With a ``forecast:`` section, :func:`bestiary.sweep.run_sweep` trains the organisms at or
below the bounds first, then calls :func:`seal`, then trains the rest. The forecast file
(``runs/<sweep>/forecast.json``) is written once and never overwritten; it records how
many of the other organisms already existed when it was sealed (none, when the sweep ran
in order), so a forecast made after the answer was known says so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from bestiary.analysis.schema import COLUMNS, EXTRA_COLUMNS
from bestiary.sweep_spec import ForecastSpec

#: The sealed forecast's name in the sweep's directory.
FORECAST = "forecast.json"


def is_before(spec: ForecastSpec, trial: Any) -> bool:
    """Whether a resolved trial is trained before the forecast is sealed."""
    return spec.before(int(trial.params), int(trial.timesteps))


def seal(spec: ForecastSpec, root: Path, before: list[Any], after: list[Any]) -> tuple[Path, bool]:
    """Write the sweep's forecast from the planned trials ``before`` (run directories), unless it exists.

    Args:
        spec: The sweep's forecast section.
        root: The sweep's directory.
        before: Planned trials below the bounds (``PlannedTrial``).
        after: The other planned trials (their finished count is recorded).

    Returns:
        (path, whether it was written now).
    """
    from bestiary.analysis.sealed import make_forecast
    from bestiary.collect import trial_rows

    path = root / FORECAST
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
            "sealed_below": spec.model_dump(exclude={"tau"}, exclude_none=True),
            "organisms_beyond_already_trained": already,
            "organisms_beyond_planned": len(after),
        },
    )
    data = (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # never overwrite a sealed forecast
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path, True
