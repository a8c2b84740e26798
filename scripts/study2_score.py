"""Study 2's sealed forecasts scored by its pre-registered rule, for the original seals and amendment 1's.

Prints, per set of seals, the rule's verdict and one row per target (an environment's emergence
along training compute at one parameter rung, bracketed by data), and then every seal's outcomes
by method — the same numbers as the report's "Sealed forecasts, scored" section.

Run: ``.venv/bin/python scripts/study2_score.py [docs/results/study2]``
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from bestiary.analysis.prereg import rule_scores, rule_table, verdict, verdict_text
from bestiary.analysis.report import markdown_table
from bestiary.analysis.seals import Seal, score_seals
from bestiary.analysis.table import load_results
from bestiary.seal_export import read_seal


def main(folder: Path) -> None:
    """Score both sets of seals against the committed table and print markdown."""
    df = load_results(folder / "results.parquet")
    print(f"Command: `python scripts/study2_score.py {folder} > {folder}/scoring.md`\n")
    for name, suffix in (("amendment 1 (the design's behaviour forecast)", "-amended"), ("original seals", "")):
        seals = [
            Seal(f"seal {k}{suffix}", read_seal(folder / f"seal-{k}{suffix}" / "forecast.json")) for k in (1, 2, 3)
        ]
        score_seals(seals, df)
        rule = rule_scores(seals)
        print(f"## {name}\n\n{verdict_text(verdict(rule))}\n\n{markdown_table(rule_table(rule))}")
        counts = []
        for s in seals:
            if s.scores is None:
                print(f"{s.label}: not scored: {s.error}\n")
                continue
            f = s.scores[s.scores.kind == "forecast"]
            by = f.groupby(["method", "outcome"]).size().unstack(fill_value=0)
            by.insert(0, "seal", s.label)
            counts.append(by.reset_index())
        table = pd.concat(counts, ignore_index=True).fillna(0)
        rows = [
            {str(k): (f"{v:.0f}" if isinstance(v, float) else str(v)) for k, v in r.items()}
            for r in table.to_dict("records")
        ]
        print(f"Outcomes of every counted prediction, by seal and method:\n\n{markdown_table(rows)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/results/study2"))
