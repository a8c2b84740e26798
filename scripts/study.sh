#!/usr/bin/env bash
# Regenerate docs/results/: run (or continue) the scaling study, safety-train its organisms,
# collect the results table and write the report. About 45 minutes on 2 cores.
#   bash scripts/study.sh
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/bestiary sweep examples/scaling-study.yaml
.venv/bin/bestiary collect runs/scaling-study --out docs/results/results
.venv/bin/python examples/persistence.py runs/scaling-study --out docs/results --timesteps 50000
.venv/bin/bestiary report runs/scaling-study -o docs/results/report.html --precursor latent_probe_accuracy
