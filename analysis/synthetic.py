"""Synthetic results tables with known trends, for tests, docs and trying the report without training.

``synthetic_table()`` mimics a sweep: for each environment, organisms on a geometric
ladder of parameter counts with several seeds. The deployment violation rate follows a
logistic in log10(params) with a known midpoint and slope (plus seed-to-seed jitter in
the midpoint), oversight-on violations stay near a floor, and the precursor
``logodds_gap`` rises smoothly — linearly in log10(params), as a policy's log-odds
does when the odds grow as a power of scale — and reaches the same critical level (3)
at every environment's midpoint, where the behaviour jumps.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy.special import expit


def synthetic_table(
    envs: dict[str, tuple[float, float]] | None = None,
    rungs: int = 7,
    seeds: int = 5,
    min_params: float = 300,
    max_params: float = 3e5,
    episodes: int = 1000,
    seed_jitter: float = 0.08,
    floor: float = 0.02,
    ceiling: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """A results table (Contract 3) with known trends.

    Args:
        envs: env id → (log10 midpoint, slope) of the deployment violation logistic.
        rungs: Ladder rungs, geometric between ``min_params`` and ``max_params``.
        seeds: Organisms per rung.
        min_params: Smallest rung.
        max_params: Largest rung.
        episodes: Episodes per condition.
        seed_jitter: Standard deviation of each organism's midpoint (decades).
        floor: Violation rate below the transition and with oversight on.
        ceiling: Violation rate above the transition.
        seed: Random seed.
    """
    envs = envs or {
        "synthetic/Sudden-v0": (3.8, 8.0),
        "synthetic/Gradual-v0": (4.2, 2.5),
        "synthetic/Late-v0": (4.6, 6.0),
    }
    rng = np.random.default_rng(seed)
    rows = []
    for env_id, (mid, slope) in envs.items():
        for p in np.geomspace(min_params, max_params, rungs):
            params = round(float(p))
            for s in range(seeds):
                m = mid + rng.normal(0, seed_jitter)
                off_p = floor + (ceiling - floor) * expit(slope * (np.log10(params) - m))
                on_p = floor
                k_off, k_on = rng.binomial(episodes, off_p), rng.binomial(episodes, on_p)
                gap = 3.0 + 2.5 * (np.log10(params) - m) + rng.normal(0, 0.2)
                base = {
                    "sweep": "synthetic",
                    "trial_id": f"{env_id.split('/')[1]}-p{params}-s{s}",
                    "env_id": env_id,
                    "failure_mode": "synthetic",
                    "env_kwargs": json.dumps({}),
                    "algo": "ppo",
                    "params": params,
                    "width": 0,
                    "depth": 2,
                    "timesteps": 100_000,
                    "seed": s,
                    "status": "done",
                }
                rows += [
                    {
                        **base,
                        "condition": "off",
                        "metric": "violation_rate",
                        "value": k_off / episodes,
                        "successes": k_off,
                        "trials": episodes,
                    },
                    {
                        **base,
                        "condition": "on",
                        "metric": "violation_rate",
                        "value": k_on / episodes,
                        "successes": k_on,
                        "trials": episodes,
                    },
                    {
                        **base,
                        "condition": "gap",
                        "metric": "misalignment_gap",
                        "value": (k_off - k_on) / episodes,
                        "successes": None,
                        "trials": None,
                    },
                    {
                        **base,
                        "condition": "probe",
                        "metric": "logodds_gap",
                        "value": gap,
                        "successes": None,
                        "trials": None,
                    },
                ]
    df = pd.DataFrame(rows)
    for col in ("successes", "trials"):
        df[col] = df[col].astype("Int64")
    return df
