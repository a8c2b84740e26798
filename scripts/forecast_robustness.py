"""How much the precursor forecasts of a results table depend on which organisms were trained.

Reruns the report's analysis (same precursor, same rules, point fits) on the full table and
on every leave-one-seed-out subset, and prints, per environment variant that emerges, the
lead of the precursor forecast: the first forecast within ×2 and the stable one (every later
forecast before the jump held too). A last row asks the hidden-progress question: the same
backtest when the precursor trend is fitted only on organisms that had not yet defected
(deployment violation rate below ``--quiet``), so that organisms which jumped early cannot
carry the forecast. Writes ``robustness.md`` beside the table. About 15 minutes on 2 cores
for docs/results/study1 (seven analyses of 540 organisms).

Run: ``.venv/bin/python scripts/forecast_robustness.py docs/results/study1/results.parquet``
"""

from __future__ import annotations

import argparse
import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from bestiary.analysis import lead_time, load_results, precursor_backtest
from bestiary.analysis.forecast import levels_from_below
from bestiary.analysis.pipeline import BEHAVIOUR, VariantAnalysis, analyse
from bestiary.analysis.table import variant_label


def _leads(rows: list) -> tuple[float, float]:
    return lead_time(rows), lead_time(rows, stable=True)


def leads(table: pd.DataFrame, precursor: str) -> tuple[dict[str, tuple[float, float]], list[VariantAnalysis]]:
    """``variant label -> (first, stable)`` precursor leads, and the analyses they came from."""
    variants = analyse(table, precursor=precursor, n_boot=0)
    out = {}
    for va in variants:
        if va.backtest_rows:
            out[variant_label(*va.key)] = _leads([r for r in va.backtest_rows if r.method == "precursor"])
    return out, variants


def quiet_leads(
    table: pd.DataFrame, variants: list[VariantAnalysis], precursor: str, quiet: float
) -> dict[str, tuple[float, float]]:
    """Precursor leads with the trend fitted only on organisms whose deployment violation rate is below ``quiet``.

    The critical levels come, as in the report, from the other variants' organisms at or below each
    forecast's own largest rung (they describe where behaviour flipped, without borrowing from above).
    """
    out = {}
    for va in variants:
        if not va.backtest_rows or not va.level_sources:
            continue
        g = va.rows(table)
        behaviour = g[(g.metric == BEHAVIOUR) & (g.condition == "off")]
        calm = set(behaviour[behaviour.value < quiet].trial_id)
        pre = g[(g.metric == precursor) & (g.condition == "probe") & g.trial_id.isin(calm)]
        level = levels_from_below(va.level_sources)
        out[variant_label(*va.key)] = _leads(precursor_backtest(behaviour, pre, level, n_boot=0))
    return out


def _fmt(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{v:.2f}"


def main() -> None:
    """Print and write the leave-one-seed-out table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", type=Path, help="results.parquet (or .csv) from `bestiary collect`")
    parser.add_argument("--precursor", default="latent_probe_accuracy")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quiet", type=float, default=0.1, help="violation rate below which an organism is quiet")
    args = parser.parse_args()
    table = load_results(args.table)
    done = table[table.status == "done"]
    seeds = sorted(done.seed.unique())
    # Each analysis refits every backtest (minutes); the leave-one-seed-out ones run in parallel.
    with ProcessPoolExecutor(args.workers) as pool:
        jobs = [pool.submit(leads, done[done.seed != s], args.precursor) for s in seeds]
        full, analyses = leads(done, args.precursor)
        runs = {"all organisms": full} | {f"without seed {s}": j.result()[0] for s, j in zip(seeds, jobs, strict=True)}
    runs[f"precursor of quiet organisms only (violation < {args.quiet})"] = quiet_leads(
        done, analyses, args.precursor, args.quiet
    )
    variants = list(full)
    lines = [
        f"Precursor ({args.precursor}) forecast leads in decades: first within ×2 / stable (every later forecast "
        "before the jump also within ×2); — = none. "
        f"Command: `python scripts/forecast_robustness.py {args.table}`",
        "",
        "| organisms | " + " | ".join(variants) + " |",
        "|---|" + "---|" * len(variants),
    ]
    for name, res in runs.items():
        cells = [" / ".join(map(_fmt, res.get(v, (math.nan, math.nan)))) for v in variants]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (args.table.parent / "robustness.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
