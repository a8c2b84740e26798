#!/usr/bin/env bash
# Regenerate docs/results/study1/: run (or continue) the scaling study, its finer ladder and its
# every-width window below the jumps, safety-train its organisms, collect the results table
# and write the report, the README's headline table and the forecasts' robustness check. About
# 80 minutes on 2 cores: the 360-organism main sweep ≈ 40 (its 45 organisms of 190k
# parameters alone take 15), the finer ladders ≈ 15, safety training ≈ 5, analysis ≈ 20.
#   bash scripts/study.sh
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/bestiary sweep examples/scaling-study.yaml --runs runs/study
.venv/bin/bestiary sweep examples/scaling-study-fine.yaml --runs runs/study
.venv/bin/bestiary sweep examples/scaling-study-window.yaml --runs runs/study
.venv/bin/bestiary collect runs/study --out docs/results/study1/results
.venv/bin/python examples/persistence.py runs/study/scaling-study --out docs/results/study1 --timesteps 50000
.venv/bin/bestiary report runs/study -o docs/results/study1/report.html --precursor latent_probe_accuracy
.venv/bin/python scripts/forecast_robustness.py docs/results/study1/results.parquet
.venv/bin/python scripts/readme_results.py
