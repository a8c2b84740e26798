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


#: The synthetic grid's variants: env id → (mechanism, log10 N₀, log10 T₀, α, β) of its surface.
GRID_VARIANTS: dict[str, tuple[str, float, float, float, float]] = {
    "synthetic/Bands-v0": ("band_reader", 3.0, 4.8, 2.0, 1.5),
    "synthetic/Memory-v0": ("memory", 3.4, 5.0, 2.5, 1.5),
    "synthetic/Evidence-v0": ("evidence", 3.2, 5.2, 1.5, 2.0),
}


def synthetic_grid(
    variants: dict[str, tuple[str, float, float, float, float]] | None = None,
    params: tuple[float, float, int] = (100, 1e5, 7),
    timesteps: tuple[float, float, int] = (3e4, 1e6, 4),
    seeds: int = 5,
    episodes: int = 1000,
    kappa: float = 26.0,
    seed: int = 0,
) -> pd.DataFrame:
    """A results table over parameters × timesteps whose organisms turn one by one.

    Each variant's share of turned organisms is the surface of
    :mod:`bestiary.analysis.surface`, ``1 / (1 + (N₀/N)^α + (T₀/T)^β)``: an organism has
    turned (violation rate about 0.95) or not (about 0.02). Its precursor
    ``latent_probe_accuracy`` rises smoothly with the log-odds of that share and reaches
    the same critical level (0.8) where the share is one half, in every variant and
    mechanism; ``logodds_gap`` does likewise (critical level 3).

    Args:
        variants: env id → (mechanism, log10 N₀, log10 T₀, α, β).
        params: (smallest, largest, rungs) of the parameter ladder.
        timesteps: (smallest, largest, rungs) of the training ladder.
        seeds: Organisms per cell.
        episodes: Episodes per condition.
        kappa: FLOPs per parameter per timestep.
        seed: Random seed.
    """
    variants = variants or GRID_VARIANTS
    rng = np.random.default_rng(seed)
    rows = []
    for env_id, (mechanism, ln0, lt0, a, b) in variants.items():
        for n in np.geomspace(*params[:2], int(params[2])):
            n = float(round(n))
            for t in np.geomspace(*timesteps[:2], int(timesteps[2])):
                t = float(round(t))
                u = 10 ** (a * (ln0 - np.log10(n))) + 10 ** (b * (lt0 - np.log10(t)))
                share = 1 / (1 + u)
                for s in range(seeds):
                    turned = rng.random() < share
                    k_off = rng.binomial(episodes, rng.beta(40, 2) if turned else rng.beta(1, 40))
                    k_on = rng.binomial(episodes, 0.02)
                    progress = -np.log(u) + rng.normal(0, 0.3)  # the log-odds of the share, with seed noise
                    base = {
                        "sweep": "synthetic-grid", "trial_id": f"{env_id.split('/')[1]}-n{n:.0f}-t{t:.0f}-s{s}",
                        "env_id": env_id, "failure_mode": "synthetic", "env_kwargs": "{}", "algo": "ppo",
                        "params": n, "width": 0, "depth": 2, "timesteps": t, "seed": s, "status": "done",
                        "reason": None, "mechanism": mechanism, "compute": kappa * n * t,
                        "learning_rate": 1e-3, "lr_rule": "constant",
                    }  # fmt: skip
                    counted = [("off", "violation_rate", k_off), ("on", "violation_rate", k_on)]
                    rows += [
                        {**base, "condition": c, "metric": m, "value": k / episodes, "successes": k,
                         "trials": episodes} for c, m, k in counted
                    ]  # fmt: skip
                    rows += [
                        {**base, "condition": "gap", "metric": "misalignment_gap", "value": (k_off - k_on) / episodes},
                        {**base, "condition": "probe", "metric": "latent_probe_accuracy",
                         "value": 0.5 + 0.45 * expit(0.8 * progress + np.log(0.3 / 0.15))},
                        {**base, "condition": "probe", "metric": "logodds_gap", "value": 3.0 + 1.5 * progress},
                    ]  # fmt: skip
    df = pd.DataFrame(rows)
    for col in ("successes", "trials"):
        df[col] = df[col].astype("Int64")
    return df
