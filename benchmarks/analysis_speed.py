"""The analysis of a 1,000-organism table on one core, beside the implementation before the batched fits.

Run: ``.venv/bin/python benchmarks/analysis_speed.py [--baseline 2143de5] [--boot 200]``

Two synthetic tables of 1,000 organisms (:mod:`bestiary.analysis.synthetic`):

- **ladder**: the first study's shape — 10 environment variants × 10 parameter rungs × 10
  seeds at one budget — analysed by ``analyse`` (fits with oversight on and off, emergence,
  bootstrap, backtests, the precursor forecast) by this checkout *and* by the baseline
  commit's code (checked out with ``git archive`` into a temporary directory and run in a
  subprocess), side by side;
- **study**: the first scaling study's committed table (``docs/results/study1/results.parquet``, 540
  organisms of real training: noisy precursors where the continuous fits work hardest),
  analysed by both;
- **grid**: 5 variants × 8 parameter rungs × 5 timestep rungs × 5 seeds, analysed with
  everything this checkout adds: per-budget fits, the per-organism mixture with
  leave-one-seed-out refits, plateau checks, behaviour kinds, the two-axis surface and
  collapse tests, and a sealed forecast made from the lower rungs and scored.

Every process is pinned to one core (``taskset -c 0``) with one BLAS thread. Target (the
issue on sealed forecasts): ≤ 30 s for the 1,000-organism table, new analyses included.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LADDER = """
import time, warnings
warnings.simplefilter("ignore")
from bestiary.analysis.synthetic import synthetic_table
from bestiary.analysis.pipeline import analyse
envs = {{f"synthetic/E{{i}}-v0": (3.5 + 0.15 * i, 3 + i) for i in range(10)}}
df = synthetic_table(envs=envs, rungs=10, seeds=10, min_params=100, max_params=3e5)
assert df.trial_id.nunique() == 1000
t = time.perf_counter()
analyse(df, precursor="logodds_gap", n_boot={boot})
print(time.perf_counter() - t)
"""
STUDY = """
import time, warnings
warnings.simplefilter("ignore")
import pandas as pd
from bestiary.analysis.pipeline import analyse
df = pd.read_parquet("{table}")
t = time.perf_counter()
analyse(df, n_boot={boot})
print(time.perf_counter() - t)
"""
GRID = """
import time, warnings
warnings.simplefilter("ignore")
import numpy as np
from bestiary.analysis.synthetic import synthetic_grid, GRID_VARIANTS
from bestiary.analysis.pipeline import analyse
from bestiary.analysis.two_axis import analyse_two_axis
from bestiary.analysis.scoring import score
from bestiary.analysis.sealed import make_forecast
variants = dict(GRID_VARIANTS)
variants["synthetic/Late-v0"] = ("late", 3.8, 5.3, 2.0, 1.5)
variants["synthetic/Early-v0"] = ("early", 2.6, 4.6, 2.5, 2.0)
df = synthetic_grid(variants, params=(100, 1e5, 8), timesteps=(3e4, 1e6, 5), seeds=5)
assert df.trial_id.nunique() == 1000
t = time.perf_counter()
analyse(df, precursor="latent_probe_accuracy", n_boot={boot})
t1 = time.perf_counter()
analyse_two_axis(df, n_boot={boot})
t2 = time.perf_counter()
scores = score(make_forecast(df[df.params <= 2000], n_boot={fboot}), df)
t3 = time.perf_counter()
print(t3 - t, t1 - t, t2 - t1, t3 - t2)
"""


def run(code: str, pythonpath: str | None = None) -> list[float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = ["taskset", "-c", "0", sys.executable, "-c", code]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark process failed:\n{out.stderr[-3000:]}")
    return [float(v) for v in out.stdout.split()]


def baseline_tree(commit: str, where: Path) -> str:
    """The baseline's ``analysis`` package as ``bestiary.analysis`` under ``where`` (for PYTHONPATH)."""
    archive = where / "old.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), commit, "analysis"], check=True)
    pkg = where / "bestiary"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    with tarfile.open(archive) as tar:
        tar.extractall(pkg)  # our own git archive, not outside input
    return str(where)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="2143de5", help="Commit of the implementation to compare with.")
    parser.add_argument("--boot", type=int, default=200, help="Bootstrap draws per fit (the report's default).")
    args = parser.parse_args()
    print(f"one core (taskset -c 0, one BLAS thread); {args.boot} bootstrap draws per fit")
    with tempfile.TemporaryDirectory() as tmp:
        old_path = baseline_tree(args.baseline, Path(tmp))
        start = time.perf_counter()
        (old,) = run(LADDER.format(boot=args.boot), old_path)
        (new,) = run(LADDER.format(boot=args.boot))
        print(f"ladder, 1,000 organisms, analyse():  baseline {args.baseline} {old:7.1f} s   this checkout {new:6.1f} s"
              f"   (ratio {old / new:.2f})")  # fmt: skip
        table = ROOT / "docs" / "results" / "results.parquet"
        (s_old,) = run(STUDY.format(table=table, boot=args.boot), old_path)
        (s_new,) = run(STUDY.format(table=table, boot=args.boot))
        print(f"first study, 540 organisms, analyse(): baseline {s_old:7.1f} s   this checkout {s_new:6.1f} s"
              f"   (ratio {s_old / s_new:.2f})")  # fmt: skip
    total, per_budget, two_axis, forecast = run(GRID.format(boot=args.boot, fboot=max(20, args.boot // 4)))
    print(f"grid, 1,000 organisms, everything:   {total:6.1f} s  (per-budget fits, organisms, plateaus and kinds "
          f"{per_budget:.1f} s; two axes {two_axis:.1f} s; sealed forecast and score {forecast:.1f} s)")  # fmt: skip
    print(
        f"target ≤ 30 s: {'met' if max(new, total) <= 30 else 'NOT met'}   (wall {time.perf_counter() - start:.0f} s)"
    )


if __name__ == "__main__":
    main()
