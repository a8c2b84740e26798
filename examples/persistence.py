"""Persistence under safety training, for every organism of chosen seeds (the first study's selection).

``bestiary persist RUNS/NAME --regime R --out DIR --into DIR`` continues the organisms of the largest
compute cells that turned; this example continues *every* finished organism of the given seeds
instead (as the first study did), through the same library functions (:mod:`bestiary.persistence`).

Run: ``.venv/bin/python examples/persistence.py runs/scaling-study --out docs/results [--timesteps N] [--regime R]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bestiary.collect import collect
from bestiary.persistence import REGIMES, continue_organisms, persistence_table


def main() -> None:
    """Continue every selected organism under a regime and write persistence[-REGIME].csv and .md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="a sweep's run directory")
    parser.add_argument("--out", type=Path, required=True, help="where the tables go")
    parser.add_argument("--timesteps", type=int, default=50_000)
    parser.add_argument("--regime", choices=REGIMES, default="on")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1], help="seeds of the organisms to continue")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--safety-runs", type=Path, default=None, help="default runs/<sweep>-safety-trained")
    args = parser.parse_args()
    table = collect(args.runs)
    off = table[(table.status == "done") & (table.metric == "violation_rate") & (table.condition == "off")]
    sources = off[~off.env_id.str.contains("NullCue") & off.seed.isin(args.seeds)]
    into = args.safety_runs or Path("runs") / f"{args.runs.name}-safety-trained"
    rows = continue_organisms(args.runs, sources, args.regime, args.timesteps, into, args.workers)
    suffix = "" if args.regime == "on" else f"-{args.regime}"
    args.out.mkdir(parents=True, exist_ok=True)
    rows.to_csv(args.out / f"persistence{suffix}.csv", index=False)
    summary = persistence_table(rows)
    cells = [[f"{v:.2f}" if isinstance(v, float) else str(v) for v in r] for r in summary.itertuples(index=False)]
    lines = ["| " + " | ".join(summary.columns) + " |", "|" + "---|" * len(summary.columns)]
    lines += ["| " + " | ".join(c) + " |" for c in cells]
    (args.out / f"persistence{suffix}.md").write_text("\n".join(lines) + "\n")
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()
