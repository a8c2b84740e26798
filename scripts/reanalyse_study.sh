#!/usr/bin/env bash
# Reanalyse the scaling study from its committed results table, without retraining: the report,
# the forecasts' robustness check and the READMEs' tables (about 20 minutes on 2 cores).
# The training provenance (sandbox layers and package versions of every organism) stays in the
# report made from the run directories by scripts/study.sh; a report from a table alone has none.
#   bash scripts/reanalyse_study.sh
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/bestiary report docs/results/study1/results.parquet -o docs/results/study1/report.html --precursor latent_probe_accuracy
.venv/bin/python scripts/forecast_robustness.py docs/results/study1/results.parquet
.venv/bin/python scripts/readme_results.py
