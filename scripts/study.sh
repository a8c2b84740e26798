#!/usr/bin/env bash
# Regenerate docs/results/: run (or continue) the scaling study, its finer ladder and its
# every-width window below the jumps, safety-train its organisms, collect the results table
# and write the report and the README's headline table. About an hour on 2 cores (most of it
# the 360-organism main sweep, whose 45 organisms of 190k parameters take 15 minutes).
#   bash scripts/study.sh
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/bestiary sweep examples/scaling-study.yaml --runs runs/study
.venv/bin/bestiary sweep examples/scaling-study-fine.yaml --runs runs/study
.venv/bin/bestiary sweep examples/scaling-study-window.yaml --runs runs/study
.venv/bin/bestiary collect runs/study --out docs/results/results
.venv/bin/python examples/persistence.py runs/study/scaling-study --out docs/results --timesteps 50000
.venv/bin/bestiary report runs/study -o docs/results/report.html --precursor latent_probe_accuracy
.venv/bin/python scripts/readme_results.py
