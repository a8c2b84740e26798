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
Re-running continues the sweeps (finished organisms are kept), so more seeds can be
added where organisms are bimodal — some turn, some do not, and a handful of seeds
cannot pin the mean: ``--seeds 24 --only smallest`` adds seeds at the smallest rungs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from bestiary.collect import collect
from bestiary.organisms import TrialSpec, resolve
from bestiary.sweep import run_sweep
from bestiary.sweep_spec import parse_sweep

ENVS = ("AbsentSupervisor", "AuditedReport", "OffSwitch")
METRICS = {
    ("violation_rate", "off"): "deployment violation",
    ("misalignment_gap", "gap"): "misalignment gap",
    ("hidden_return", "off"): "hidden return (off)",
}
SPEC = """\
name: equivalence-{trainer}{suffix}
environments:
{environments}
scale:
  {scale}
seeds: {seeds}
trainer: {trainer}
executor: {{kind: local, workers: {workers}}}
retries: 1
"""
LADDER = "params: {min: 100, max: 100000, rungs: 2}"


def bootstrap_diff(a: np.ndarray, b: np.ndarray, draws: int = 4000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of mean(a) − mean(b), organisms resampled within each group."""
    rng = np.random.default_rng(seed)
    d = rng.choice(a, (draws, len(a))).mean(1) - rng.choice(b, (draws, len(b))).mean(1)
    return float(np.quantile(d, 0.025)), float(np.quantile(d, 0.975))


def run_sweeps(args: argparse.Namespace) -> None:
    """Train (or continue) the trials with both trainers."""
    sweeps = []  # (suffix, environments, scale)
    if args.only == "smallest":
        for n in ENVS:
            width = resolve(TrialSpec(env_id=f"bestiary/{n}-v0", params=100)).width
            sweeps.append((f"-{n}-w{width}", f"  - id: bestiary/{n}-v0", f"widths: [{width}]"))
    else:
        sweeps.append(("", "\n".join(f"  - id: bestiary/{n}{v}-v0" for n in ENVS for v in ("", "NullCue")), LADDER))
    for trainer in ("sb3", "population"):
        for suffix, environments, scale in sweeps:
            text = SPEC.format(
                trainer=trainer, suffix=suffix, environments=environments, scale=scale, seeds=args.seeds,
                workers=args.workers,
            )  # fmt: skip
            start = time.perf_counter()
            report = run_sweep(parse_sweep(text), text, args.runs)
            took = time.perf_counter() - start
            print(f"trainer {trainer}{suffix}: {report.done} done, {report.failed} failed, {took:.0f} s")


def compare(df: pd.DataFrame, alpha: float, tolerance: float) -> int:
    """Print the comparison table; return how many cells fail a criterion."""
    rows = []
    for (env_id, params), g in df[df.status == "done"].groupby(["env_id", "params"]):
        for (metric, condition), name in METRICS.items():
            m = g[(g.metric == metric) & (g.condition == condition)]
            a = m[m.trainer == "population"].value.to_numpy(float)
            b = m[m.trainer == "sb3"].value.to_numpy(float)
            if len(a) < 2 or len(b) < 2:
                continue
            p = 1.0 if np.ptp(np.concatenate([a, b])) == 0 else float(mannwhitneyu(a, b).pvalue)
            lo, hi = bootstrap_diff(a, b)
            rows.append((env_id, int(params), name, len(b), len(a), b.mean(), a.mean(), lo, hi, p))
    level = alpha / max(len(rows), 1)
    print(f"\n{'environment':36} {'params':>7} {'metric':22} {'n':>5} {'sb3':>7} {'popul.':>7} {'diff':>7} "
          f"{'95% CI':>17} {'p':>7}")  # fmt: skip
    failures = 0
    for env_id, params, name, nb, na, mb, ma, lo, hi, p in rows:
        significant, far = p < level, abs(ma - mb) > tolerance
        failures += significant or far
        flag = "  ← significant" if significant else ("  ← |diff| > tolerance" if far else "")
        print(f"{env_id:36} {params:>7,} {name:22} {nb:>2}/{na:<2} {mb:7.3f} {ma:7.3f} {ma - mb:+7.3f} "
              f"[{lo:+.3f}, {hi:+.3f}] {p:7.3f}{flag}")  # fmt: skip
    verdict = "PASS" if failures == 0 else f"FAIL ({failures} cells)"
    print(
        f"\n{len(rows)} tests; Mann–Whitney U at α = {alpha} / {len(rows)} = {level:.4f} (Bonferroni); "
        f"|difference of means| ≤ {tolerance}. {verdict}. n = organisms (sb3/population)."
    )
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=Path("runs/equivalence"))
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--only", choices=("smallest",), help="only the smallest rungs of the default cues")
    args = parser.parse_args()
    run_sweeps(args)
    tables = [collect(d).assign(trainer=d.name.split("-")[1]) for d in sorted(args.runs.glob("equivalence-*"))]
    df = pd.concat(tables).drop_duplicates(["trainer", "trial_id", "condition", "metric"])
    if compare(df, args.alpha, args.tolerance):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
