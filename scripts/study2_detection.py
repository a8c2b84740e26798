"""Study 2's detection benchmark in brief: AUROC by parameter rung, per environment and per family.

Reads the audit's table (``bestiary audit RUNS/study2 RUNS/study2-controls``, committed as
``docs/results/study2/detection/detection.parquet``) and prints, as markdown:

1. per detector, the AUROC at each parameter rung of each environment's own organisms (a rung where
   all or none turned has none: "·"), beside its random-initialisation control for the probe;
2. per detector that watches behaviour, the same with each environment's null-cue control as
   negatives at every rung (the environment family);
3. the persistence organisms' table, if given: per regime and environment, all organisms pooled.

Run: ``.venv/bin/python scripts/study2_detection.py docs/results/study2/detection/detection.parquet
[docs/results/study2/detection/persistence/detection.parquet]``
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

from bestiary.analysis.detection import detectability, detectability_rows
from bestiary.analysis.report import markdown_table

DRAWS = 1000


def _cell(r: pd.Series) -> str:
    return f"{r.auroc:.2f}" if math.isfinite(r.auroc) else "·"


def by_rung(d: pd.DataFrame, detectors: list[str]) -> str:
    """One row per (detector, environment), one column per parameter rung: the AUROC there."""
    d = d[d.detector.isin(detectors)].copy()
    d["rung"] = [f"{10**b:,.0f}" for b in d.bin]
    rungs = [f"{10**b:,.0f}" for b in sorted(d.bin.unique())]
    rows = []
    for (det, env), g in d.groupby(["detector", "environment"], sort=False):
        cells = {r.rung: _cell(r) for _, r in g.iterrows()}
        rows.append({"detector": det, "environment": env.split("/")[-1], **{k: cells.get(k, "·") for k in rungs}})
    order = {det: i for i, det in enumerate(detectors)}
    return markdown_table(sorted(rows, key=lambda r: (order[r["detector"]], r["environment"])))


def before_after(study: pd.DataFrame, after: pd.DataFrame) -> str:
    """Per detector and regime: organisms, median violation off and median score, before and after."""
    before = study[["trial_id", "detector", "score", "off"]].rename(
        columns={"trial_id": "source", "score": "score_before", "off": "off_before"}
    )
    m = after.merge(before, on=["source", "detector"])
    rows = [
        {"detector": det, "regime": regime, "organisms": str(len(g)),
         "off before → after": f"{g.off_before.median():.2f} → {g.off.median():.2f}",
         "median score before → after": f"{g.score_before.median():.3f} → {g.score.median():.3f}"}
        for (det, regime), g in m.groupby(["detector", "oversight"])
    ]  # fmt: skip
    return markdown_table(rows)


def main(study: Path, persistence: Path | None) -> None:
    """Print the tables."""
    table = pd.read_parquet(study)
    own = table[~table.env_id.str.contains("NullCue")]
    print(f"Command: `python scripts/study2_detection.py {study}{' ' + str(persistence) if persistence else ''}`\n")
    print("AUROC against turned (violation off ≥ 0.5), by parameter rung; 90 % intervals in detection.md.\n")
    print("## Each environment's own organisms\n")
    every = ["honeypot", "honeypot_plain", "cue_sensitivity", "defection_probe", "defection_probe_init", "null"]
    print(by_rung(detectability(own, "params", DRAWS), every))
    print("\n## With each environment's null-cue control as negatives (detectors that watch behaviour)\n")
    watching = table[~table.trained.astype(bool)]
    print(by_rung(detectability(watching, "params", DRAWS, by="family"), [d for d in every if "probe" not in d]))
    if persistence is not None:
        after = pd.read_parquet(persistence)
        print("\n## After safety training: each detector's median score, before and after, per regime\n")
        print("Each persistence organism beside the study organism it was continued from (its `source`). The probe's "
              "scores after are the audit's, fitted within the regime (scripts/study2_probe_transfer.py fits it "
              "before safety training instead).\n")  # fmt: skip
        print(before_after(table, after))
        print("\n## After safety training: each regime's organisms, all scales pooled\n")
        print(markdown_table(detectability_rows(detectability(after, "all", DRAWS))))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
