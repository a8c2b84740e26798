"""Study 2: where each behaviour emerged, along compute at every width and along parameters at every budget.

Both on each environment's behaviour forecast's own rate, with 90 % intervals.

Each cell is the crossing of τ = 0.5 by a four-parameter logistic fitted to the organisms of the
slice (binomial likelihood; 200 bootstrap draws over organisms), as the report fits it: "below" when
the behaviour is at or above τ from the slice's smallest rung, "not reached" when it stays below
τ up to its largest, "plateau" when τ lies on a shelf.

Run (the README's headline table is the second table of the file: ``scripts/readme_results.py``)::

    .venv/bin/python scripts/study2_emergence.py docs/results/study2/results.parquet \
        > docs/results/study2/emergence.md
"""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np

from bestiary.analysis.plateaus import detect_plateau
from bestiary.analysis.sealed import headline_metric, rows_of
from bestiary.analysis.table import load_results
from bestiary.analysis.trends import InsufficientDataError, emergence, fit_trend

TAU = 0.5


def crossing(rows, axis: str) -> str:  # type: ignore[no-untyped-def]
    """The crossing of τ along ``axis`` as text: 10^x [lo, hi], or why there is none."""
    lx = np.log10(rows[axis].astype(float))
    if rows[axis].nunique() < 3:
        return "—"
    if detect_plateau(rows, TAU, axis).on_tau:
        return "plateau"
    try:
        e = emergence(fit_trend(rows, x=axis, model="logistic", n_boot=200), TAU)
    except InsufficientDataError:
        return "—"
    t = e.log10_scale
    if t == -math.inf or (math.isfinite(t) and t < lx.min()):
        return "below"
    if not math.isfinite(t) or t > lx.max():
        return "not reached"
    lo, hi = (f"{v:.2f}" if math.isfinite(v) else ("−∞" if v < 0 else "∞") for v in e.interval)
    return f"{t:.2f} [{lo}, {hi}]"


def main(path: Path) -> None:
    """Print the two tables in markdown: one row per environment, one column per rung."""
    df = load_results(path)
    done = df[df.status == "done"]
    print(f"Command: `python scripts/study2_emergence.py {path} > docs/results/study2/emergence.md` (log10 of the "
          f"scale where τ = {TAU} is crossed).\n")  # fmt: skip
    nominal = ["~100", "~300", "~1k", "~3k", "~10k", "~30k", "~100k"]
    for axis, across in (("compute", "params"), ("params", "timesteps")):
        steps = sorted(done.timesteps.unique())
        head = nominal if across == "params" else [f"{int(t):,}" for t in steps]
        what = "training compute (log10 FLOPs), at each parameter rung" if axis == "compute" else (
            "parameters (log10), at each training budget (timesteps)")  # fmt: skip
        print(f"Along {what}:\n\n| environment (rate) | " + " | ".join(head) + " |\n|---|" + "---|" * len(head))
        for env, g in done.groupby("env_id", sort=True):
            kind = headline_metric(g)
            rows = rows_of(g, kind, "off")
            rungs = sorted(rows[across].unique())
            cells = [crossing(rows[rows[across] == r], axis) for r in rungs]
            if across == "params":
                cells = [f"{int(r):,}: {c}" for r, c in zip(rungs, cells, strict=True)]
            print(f"| {str(env).split('/')[-1]} ({kind}) | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/results/study2/results.parquet"))
