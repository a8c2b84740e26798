"""One object owns a sweep's directory: every sweep-level path and every write to it.

::

    runs/<sweep>/
      sweep.yaml        the spec as given, for provenance
      plan.json         the trials the host planned (``bestiary collect`` reads only these)
      throughput.json   the dry run's measured training rates, for this host
      forecast.json     the sealed forecast, written once (exclusive create) and never rewritten
      forecast-K.json   with several seal levels: seal K, likewise
      forecasts.jsonl   every forecast made from the sweep's organisms, appended
      results.parquet   the collected table (and .csv, -curves.parquet), report.html beside it
      .staging/         the units' sandboxed working directories, removed after each unit
      <trial-id>/       one :class:`~bestiary.organisms.rundir.RunDir` per trial (with its claim)

Like :class:`~bestiary.organisms.rundir.RunDir` for a trial, :class:`SweepDir` is the
only code that knows these names; readers treat every file as untrusted (bounded reads,
parsed with limits).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bestiary.organisms.files import json_bytes, write_atomic, write_new
from bestiary.organisms.rundir import RunDir
from bestiary.sandbox.outputs import MalformedOutputError, UnsafeOutputError, parse_json, read_output

SPEC_COPY = "sweep.yaml"
PLAN = "plan.json"
THROUGHPUT = "throughput.json"
FORECAST = "forecast.json"
FORECAST_LOG = "forecasts.jsonl"
RESULTS = "results"
REPORT = "report.html"
STAGING = ".staging"
_MAX_PLAN = 64 * 1024 * 1024


class SweepDir:
    """A sweep's directory (``runs/<sweep>``); it need not exist yet.

    Args:
        path: The directory.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).absolute()

    def __repr__(self) -> str:
        return f"SweepDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        """The sweep's name (the directory's)."""
        return self.path.name

    # ------------------------------------------------------------------ paths
    def run_dir(self, trial_id: str) -> RunDir:
        """The run directory of one of the sweep's trials."""
        return RunDir(self.path / trial_id)

    @property
    def staging(self) -> Path:
        """Where the sweep's units make their sandboxed working directories."""
        return self.path / STAGING

    @property
    def forecast(self) -> Path:
        """The sealed forecast's file."""
        return self.path / FORECAST

    def seal(self, k: int, of: int) -> Path:
        """Seal ``k`` (1-based) of ``of``: ``forecast.json`` for a sweep of one seal, else ``forecast-K.json``."""
        return self.forecast if of == 1 else self.path / f"forecast-{k}.json"

    def seals(self) -> list[tuple[int, Path]]:
        """The seals present, as ``(k, path)`` in order (plain files only; ``forecast.json`` is seal 1)."""
        found = [p for p in self.path.glob("forecast*.json") if p.is_file() and not p.is_symlink()]
        numbered = sorted((int(p.stem.split("-", 1)[1]), p) for p in found if p.stem.split("-", 1)[-1].isdigit())
        return ([(1, self.forecast)] if self.forecast in found else []) + numbered

    @property
    def forecast_log(self) -> Path:
        """The log of every forecast made from the sweep's organisms."""
        return self.path / FORECAST_LOG

    @property
    def throughput(self) -> Path:
        """The dry run's cache of measured training rates."""
        return self.path / THROUGHPUT

    @property
    def results(self) -> Path:
        """The stem of the collected table (``.parquet``, ``.csv``)."""
        return self.path / RESULTS

    @property
    def report(self) -> Path:
        """The report's default path."""
        return self.path / REPORT

    # ------------------------------------------------------------------ the plan
    def is_sweep(self) -> bool:
        """Whether the directory holds a sweep's plan (a plain file, not a link)."""
        plan = self.path / PLAN
        return plan.is_file() and not plan.is_symlink()

    def write_plan(self, spec_text: str, trial_ids: list[str]) -> None:
        """Write the spec's copy and the plan (the trials the host will run and collect)."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path / SPEC_COPY, spec_text.encode())
        write_atomic(self.path / PLAN, json_bytes({"sweep": self.name, "trials": trial_ids}))

    def spec_copy(self) -> str | None:
        """The spec's copy (None if missing or unreadable)."""
        try:
            return read_output(self.path, SPEC_COPY, 1024 * 1024).decode(errors="replace")
        except (FileNotFoundError, UnsafeOutputError, OSError):
            return None

    def planned_ids(self) -> list[str] | None:
        """The trial ids the plan lists, each a plain name (None if there is no readable plan)."""
        try:
            plan = parse_json(read_output(self.path, PLAN, _MAX_PLAN), max_bytes=_MAX_PLAN)
        except (FileNotFoundError, MalformedOutputError, OSError):
            return None
        trials = plan.get("trials") if isinstance(plan, dict) else None
        if not isinstance(trials, list):
            return None
        return [t for t in trials if isinstance(t, str) and "/" not in t and t not in ("", ".", "..")]

    # ------------------------------------------------------------------ forecasts
    def write_forecast(self, doc: dict[str, Any], path: Path | None = None) -> Path:
        """Seal a forecast (at ``path``, one of :meth:`seal`; default the sweep's one): write it once, never over.

        Raises:
            FileExistsError: If that seal exists.
        """
        path = path or self.forecast
        write_new(path, (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode())
        return path

    def log_forecast(self, line: dict[str, Any]) -> None:
        """Append one forecast's line to the log (append-only; never rewritten)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.forecast_log, "a") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")

    # ------------------------------------------------------------------ the dry run's cache
    def read_throughput(self) -> Any:
        """The throughput cache's JSON (None if missing or unreadable)."""
        try:
            return parse_json(read_output(self.path, THROUGHPUT, 1024 * 1024))
        except (FileNotFoundError, OSError, MalformedOutputError):
            return None

    def write_throughput(self, obj: Any) -> None:
        """Write the throughput cache."""
        write_atomic(self.throughput, json_bytes(obj))
