"""The second study's learning-rate check: which per-width rule to train with, judged on the training return only.

Run (each sweep trains 2 environments × 7 widths × 2 seeds × 400k steps at one learning rate)::

    for lr in 0.0003 0.001 0.003; do
      .venv/bin/bestiary sweep docs/results/study2/lr-check/lr-$lr.yaml --runs RUNS
    done
    .venv/bin/python scripts/lr_check.py RUNS > docs/results/study2/lr-check/result.md

For every organism, its training return is the mean observed return over the last 20 % of its
training curve (never its violation rate: the check must not choose the rule that makes the
failure emerge). Per width, each learning rate's mean over environments and seeds, and its
standard error over the organisms (each environment's mean removed, so the environments' levels
do not count as noise). A learning rate is *within noise of the best* at a width when its mean is
at most two standard errors of the difference below the best. The rule chosen: a constant rate
within noise of the best at every width if there is one (the largest such, if several), else the
best rate per width (a table).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from bestiary.collect import collect_curves

RATES = (0.0003, 0.001, 0.003)


def final_returns(runs: Path) -> pd.DataFrame:
    """One row per organism: environment, parameters, learning rate, seed, final training return."""
    rows = []
    for lr in RATES:
        sweep = runs / f"lr-check-{lr}"
        curves = collect_curves(sweep)
        for (env, params, seed), c in curves.groupby(["env_id", "params", "seed"]):
            tail = c[c.timesteps >= 0.8 * c.timesteps.max()]
            rows.append({"env": env.split("/")[-1], "params": int(params), "lr": lr, "seed": int(seed),
                         "final_return": float(tail.observed_return.mean())})  # fmt: skip
    df = pd.DataFrame(rows)
    # A width is a rung of the ladder: its parameter count differs a little between environments (their
    # observations differ), so organisms are grouped by rung, not by the exact count.
    return df.assign(rung=df.groupby("env").params.rank(method="dense").astype(int))


def decide(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The per-width table (mean, SE, within noise of the best) and the rule chosen, in words."""
    # Each environment's mean at the width removed: the environments' levels are blocks, not noise.
    df = df.assign(centred=df.final_return - df.groupby(["env", "rung"]).final_return.transform("mean"))
    out = []
    for _, g in df.groupby("rung"):
        params = "/".join(f"{p:,}" for p in sorted(g.params.unique()))
        stats = g.groupby("lr").agg(mean=("final_return", "mean"), centred=("centred", "mean"),
                                    se=("centred", lambda v: v.std(ddof=1) / math.sqrt(len(v))))  # fmt: skip
        best = stats.centred.idxmax()
        for lr, r in stats.iterrows():
            gap = stats.centred[best] - r.centred
            noise = 2 * math.hypot(r.se, stats.se[best])
            out.append({"params": params, "lr": lr, "mean_return": r["mean"], "se": r.se,
                        "best": lr == best, "within_noise": bool(gap <= noise)})  # fmt: skip
    table = pd.DataFrame(out)
    everywhere = [lr for lr in RATES if table[table.lr == lr].within_noise.all()]
    if everywhere:
        return table, f"constant learning rate {max(everywhere):g} (within noise of the best at every width)"
    per_width = table[table.best].set_index("params").lr.to_dict()
    return table, "no constant rate is within noise of the best at every width: per width " + ", ".join(
        f"{p}: {lr:g}" for p, lr in per_width.items()
    )


def main() -> None:
    """Print the check's table and the rule it chooses (see the module docstring)."""
    runs = Path(sys.argv[1])
    df = final_returns(runs)
    table, rule = decide(df)
    print("| params (per environment) | learning rate | mean final training return | SE | best | within noise |")
    print("|---|---|---|---|---|---|")
    for r in table.itertuples():
        print(f"| {r.params} | {r.lr:g} | {r.mean_return:.3f} | {r.se:.3f} | {'yes' if r.best else ''} | "
              f"{'yes' if r.within_noise else 'no'} |")  # fmt: skip
    print(f"\nOrganisms: {len(df)} ({df.env.nunique()} environments × {df.rung.nunique()} widths × "
          f"{df.lr.nunique()} learning rates × {df.seed.nunique()} seeds).\n\nRule chosen: {rule}.")  # fmt: skip
    if np.isnan(table.se).any():
        print("\n(an SE is missing where a width had one organism: the check is then not decisive there)")


if __name__ == "__main__":
    main()
