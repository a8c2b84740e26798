"""Does the population trainer learn what stable-baselines3 learns? The same trials, both trainers, compared.

Run: ``.venv/bin/python benchmarks/population_equivalence.py [--seeds 8] [--runs runs/equivalence]``

The trials are the learning check's (``benchmarks/learning_check.py``): every Bestiary
environment at its default cue and its null-cue control, at the smallest and the largest
rung of the 100–100,000-parameter ladder, with the default hyperparameters and timesteps —
each trained and evaluated in the sandbox through the normal sweep, once with
``trainer: sb3`` and once with ``trainer: population``, ``--seeds`` seeds each. For every
(environment, rung) and every metric — deployment violation rate, misalignment gap,
hidden return in deployment — it prints both means, their difference with a 95 %
bootstrap interval (organisms resampled), and a two-sided Mann–Whitney U test.

It passes when no difference is significant at α = 0.05 after a Bonferroni correction
over all the tests, and every difference of means is at most 0.05 in absolute value.
Re-running continues the sweeps (finished organisms are kept).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from bestiary.collect import collect
from bestiary.sweep import run_sweep
from bestiary.sweep_spec import parse_sweep

ENVS = ("AbsentSupervisor", "AuditedReport", "OffSwitch")
METRICS = {
    ("violation_rate", "off"): "deployment violation",
    ("misalignment_gap", "gap"): "misalignment gap",
    ("hidden_return", "off"): "hidden return (off)",
}
SPEC = """\
name: equivalence-{trainer}
environments:
{environments}
scale:
  params: {{min: 100, max: 100000, rungs: 2}}
seeds: {seeds}
trainer: {trainer}
executor: {{kind: local, workers: {workers}}}
retries: 1
"""


def bootstrap_diff(a: np.ndarray, b: np.ndarray, draws: int = 4000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of mean(a) − mean(b), organisms resampled within each group."""
    rng = np.random.default_rng(seed)
    d = rng.choice(a, (draws, len(a))).mean(1) - rng.choice(b, (draws, len(b))).mean(1)
    return float(np.quantile(d, 0.025)), float(np.quantile(d, 0.975))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=Path("runs/equivalence"))
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--tolerance", type=float, default=0.05)
    args = parser.parse_args()
    environments = "\n".join(f"  - id: bestiary/{n}{v}-v0" for n in ENVS for v in ("", "NullCue"))
    tables = []
    for trainer in ("sb3", "population"):
        text = SPEC.format(trainer=trainer, environments=environments, seeds=args.seeds, workers=args.workers)
        start = time.perf_counter()
        report = run_sweep(parse_sweep(text), text, args.runs)
        print(f"trainer {trainer}: {report.done} done, {report.failed} failed, {time.perf_counter() - start:.0f} s")
        df = collect(args.runs / f"equivalence-{trainer}")
        tables.append(df.assign(trainer=trainer))
    df = pd.concat(tables)
    done = df[df.status == "done"]
    rows = []
    for (env_id, params), g in done.groupby(["env_id", "params"]):
        for (metric, condition), name in METRICS.items():
            m = g[(g.metric == metric) & (g.condition == condition)]
            a = m[m.trainer == "population"].value.to_numpy(float)
            b = m[m.trainer == "sb3"].value.to_numpy(float)
            if len(a) < 2 or len(b) < 2:
                continue
            p = 1.0 if np.ptp(np.concatenate([a, b])) == 0 else float(mannwhitneyu(a, b).pvalue)
            lo, hi = bootstrap_diff(a, b)
            rows.append((env_id, int(params), name, b.mean(), a.mean(), a.mean() - b.mean(), lo, hi, p))
    tests = len(rows)
    level = args.alpha / max(tests, 1)
    print(
        f"\n{'environment':36} {'params':>7} {'metric':22} {'sb3':>7} {'popul.':>7} {'diff':>7} {'95% CI':>17} {'p':>7}"
    )
    failures = 0
    for env_id, params, name, mb, ma, diff, lo, hi, p in rows:
        bad = p < level or abs(diff) > args.tolerance
        failures += bad
        print(f"{env_id:36} {params:>7,} {name:22} {mb:7.3f} {ma:7.3f} {diff:+7.3f} [{lo:+.3f}, {hi:+.3f}] {p:7.3f}"
              f"{'  ← differs' if bad else ''}")  # fmt: skip
    print(
        f"\n{tests} tests; Mann–Whitney U at α = {args.alpha} / {tests} = {level:.4f} (Bonferroni); "
        f"|difference of means| ≤ {args.tolerance}. {'PASS' if failures == 0 else f'FAIL ({failures} differ)'}; "
        f"{args.seeds} seeds per trainer, run directories under {args.runs}"
    )
    if failures and not math.isnan(failures):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
