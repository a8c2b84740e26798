"""Training throughput: Bestiary's defaults vs stable-baselines3's defaults, and the compute bound.

Run: ``.venv/bin/python benchmarks/train_throughput.py [--env bestiary/AbsentSupervisor-v0]``

For organisms of about 1e3, 2e4 and 2e5 parameters, in one run on the same environment
and with one torch thread each (as organisms are trained in a sweep):

(a) Bestiary's defaults: the batched ``VecEnv`` and the PPO hyperparameters of
    ``organisms/defaults.yaml``;
(b) SB3's defaults: the single environment in a ``DummyVecEnv`` of one, PPO's default
    hyperparameters (n_steps 2048, batch 64, 10 epochs), the same network;
(c) the compute bound: the machine's measured single-thread float32 matmul rate divided
    by the FLOPs per sample of Bestiary's update, about 6 × parameters × epochs (forward
    and backward) plus 2 × parameters for the rollout's forward pass.

Targets: (a)/(b) ≥ 10× at 1e3 and 2e4 parameters; (a) ≥ 50 % of (c) at 2e5.
"""

from __future__ import annotations

import argparse
import time

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

import bestiary.envs as E
from bestiary.organisms.spec import TrialSpec, resolve
from bestiary.organisms.train import build_model, make_training_env

torch.set_num_threads(1)


def matmul_gflops(n: int = 1024, repeats: int = 20) -> float:
    """Single-thread float32 matmul rate (best of ``repeats``)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def bestiary_rate(env_id: str, params: int, steps: int) -> tuple[float, int, int]:
    trial = resolve(TrialSpec(env_id=env_id, params=params, seed=0, timesteps=steps))
    model = build_model(trial, make_training_env(trial))
    model.learn(trial.n_envs * trial.hyperparameters["n_steps"])  # warm-up: one rollout and update
    start, before = time.perf_counter(), model.num_timesteps
    model.learn(steps, reset_num_timesteps=False)
    return (
        (model.num_timesteps - before) / (time.perf_counter() - start),
        trial.params,
        trial.hyperparameters["n_epochs"],
    )


def sb3_default_rate(env_id: str, width: int, depth: int, steps: int) -> float:
    venv = DummyVecEnv([lambda: E.make(env_id)])
    layers = [width] * depth
    model = PPO(
        "MlpPolicy",
        venv,
        seed=0,
        device="cpu",
        policy_kwargs={"net_arch": {"pi": layers, "vf": layers}, "activation_fn": torch.nn.ReLU},
    )
    start = time.perf_counter()
    model.learn(steps)
    return model.num_timesteps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="bestiary/AbsentSupervisor-v0")
    args = parser.parse_args()
    gflops = matmul_gflops()
    print(f"environment {args.env}; single-thread float32 matmul: {gflops:.1f} GFLOP/s; one torch thread")
    print(
        f"{'params':>8} {'(a) bestiary':>14} {'(b) SB3 defaults':>17} {'(a)/(b)':>8} {'(c) bound':>11} {'(a)/(c)':>8}"
    )
    for budget, steps in ((1_000, 200_000), (20_000, 100_000), (200_000, 40_000)):
        a, params, epochs = bestiary_rate(args.env, budget, steps)
        trial = resolve(TrialSpec(env_id=args.env, params=budget))
        b = sb3_default_rate(args.env, trial.width, trial.depth, 4096)
        bound = gflops * 1e9 / (6 * params * epochs + 2 * params)
        print(f"{params:>8,} {a:>12,.0f}/s {b:>15,.0f}/s {a / b:>7.1f}× {bound:>9,.0f}/s {a / bound:>7.0%}")


if __name__ == "__main__":
    main()
