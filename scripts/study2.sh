#!/usr/bin/env bash
# Study 2, end to end, in the order it was run (docs/results/study2/README.md). Each step is
# resumable; rerun the script to continue. Training (steps 1–2) must run with the code that
# trained the committed seals' organisms — commit 2345dfc — because trial ids hash the environments'
# code: from a checkout of that commit (git worktree add ../study2-code 2345dfc; bash scripts/setup.sh
# there), run step 1 there with CODE=../study2-code. Analysis (steps 3–5) runs here.
#   RUNS=/somewhere/outside/the/checkout CODE=../study2-code bash scripts/study2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:?set RUNS to a directory outside the checkout}
CODE=${CODE:-.}
OUT=docs/results/study2
# 1. The grid, phase by phase: each seal exported and committed before training past it
#    (the committed seal-K folders are the record; rerunning rebuilds the organisms bit for bit).
for k in 1 2 3; do
  (cd "$CODE" && .venv/bin/bestiary sweep docs/results/study2/study2.yaml --runs "$RUNS" --until-seal $k)
  (cd "$CODE" && .venv/bin/bestiary sweep docs/results/study2/study2-controls.yaml --runs "$RUNS" --until-seal $k)
done
# 2. Phase 4: the organisms above the last seal.
(cd "$CODE" && .venv/bin/bestiary sweep docs/results/study2/study2.yaml --runs "$RUNS")
(cd "$CODE" && .venv/bin/bestiary sweep docs/results/study2/study2-controls.yaml --runs "$RUNS")
# 3. The results tables (commit them before scoring, so git proves each seal came first).
.venv/bin/bestiary collect "$RUNS/study2" --out $OUT/results
.venv/bin/bestiary collect "$RUNS/study2-controls" --out $OUT/controls/results
# 4. Reports: every seal scored (the originals and amendment 1's), error against lead, the rule's verdict.
seals() { for k in 1 2 3; do echo --forecast $OUT/$1seal-$k/forecast.json --forecast $OUT/$1seal-$k-amended/forecast.json; done; }
.venv/bin/bestiary report $OUT/results.parquet -o $OUT/report.html $(seals "")
.venv/bin/bestiary report $OUT/controls/results.parquet -o $OUT/controls/report.html $(seals controls-)
# 5. The tables the study's page and the README quote.
.venv/bin/python scripts/study2_emergence.py $OUT/results.parquet > $OUT/emergence.md
.venv/bin/python scripts/study2_score.py $OUT > $OUT/scoring.md
.venv/bin/python scripts/study2_controls.py $OUT/controls/results.parquet > $OUT/controls/flat.md
.venv/bin/python scripts/study2_grid_figure.py $OUT/results.parquet $OUT/grid.png
.venv/bin/python scripts/readme_results.py
# 6. Persistence: the three largest compute cells that turned, per environment, under each regime.
for regime in on in_distribution honeypots; do
  .venv/bin/bestiary persist "$RUNS/study2" --regime $regime --timesteps 400000 --cells 3 --turned 0.8 \
    --out $OUT/persistence --into "$RUNS/study2-persistence"
done
# 7. Catching them: every detector on every organism (the null-cue controls audited beside the study, as
#    negatives at every scale), then on the persistence organisms of each regime.
.venv/bin/bestiary audit "$RUNS/study2" "$RUNS/study2-controls" --out "$RUNS/audit-study2"
.venv/bin/bestiary audit "$RUNS/study2-persistence" --out "$RUNS/audit-persistence"
mkdir -p $OUT/detection/persistence
for f in detection.parquet detection.md detection.png detection-families.png; do
  cp "$RUNS/audit-study2/$f" $OUT/detection/ 2>/dev/null || true
  cp "$RUNS/audit-persistence/$f" $OUT/detection/persistence/ 2>/dev/null || true
done
