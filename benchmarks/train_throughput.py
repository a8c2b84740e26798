"""Training throughput: the population trainer against stable-baselines3, one core, measured side by side.

Run: ``.venv/bin/python benchmarks/train_throughput.py [--env bestiary/AbsentSupervisor-v0] [--rounds 3]``

For organisms of about 1e3, 1e4 and 1e5 parameters, each measurement in a fresh process
with one torch thread (as organisms are trained in a sweep), in interleaved rounds:

(a) one organism trained by stable-baselines3 as Bestiary trains it today: the batched
    ``VecEnv``, the hyperparameters of ``organisms/defaults.yaml``, the ``train.csv``
    callback;
(b) SB3's defaults: the single environment in a ``DummyVecEnv`` of one, PPO's default
    hyperparameters (n_steps 2048, batch 64, 10 epochs), the same network;
(p) populations of P organisms (the planner's size for that parameter count, and
    others): organism-steps per second summed over the population, and the process's
    peak memory;
(c) the compute bound: the single-thread float32 matmul rate divided by the FLOPs per
    sample of the update, about 26 × parameters (4 epochs of forward and backward, and
    the rollout's forward pass).

Each rate is the best of the rounds; each ratio is the median of the per-round ratios, so
a busy neighbour on a shared machine moves both sides of a ratio together. Targets
(issue: population training): P at 1e3 ≥ 10 × (a); at 1e4 ≥ 5 × (a) and ≥ 30 % of (c);
at 1e5 ≥ 1.5 × (a).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

SIZES = (1_000, 10_000, 100_000)
POPULATIONS = (8, 16, 32, 64)

CHILD = r"""
import json, sys, time, tempfile
from pathlib import Path
import torch
torch.set_num_threads(1)
from bestiary.organisms.spec import TrialSpec, resolve
kind, env, budget, P, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
trial = resolve(TrialSpec(env_id=env, params=budget, seed=0))
if kind == "sb3":
    from bestiary.organisms.worker.sb3 import TrainLog, build_model, make_training_env
    model = build_model(trial, make_training_env(trial))
    model.learn(trial.n_envs * trial.hyperparameters["n_steps"])  # warm-up: one rollout and update
    log = TrainLog(10**9, lambda p: None)
    start, before = time.perf_counter(), model.num_timesteps
    model.learn(steps, reset_num_timesteps=False, callback=log)
    rate = (model.num_timesteps - before) / (time.perf_counter() - start)
elif kind == "sb3-defaults":
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv
    import bestiary.envs as E
    layers = [trial.width] * trial.depth
    model = PPO("MlpPolicy", DummyVecEnv([lambda: E.make(env)]), seed=0, device="cpu",
                policy_kwargs={"net_arch": {"pi": layers, "vf": layers}, "activation_fn": torch.nn.ReLU})
    start = time.perf_counter()
    model.learn(steps)
    rate = model.num_timesteps / (time.perf_counter() - start)
else:
    from bestiary.organisms.worker.population import Member, Population
    pop = Population([Member(env, {}, s) for s in range(P)], trial.width, trial.depth, trial.activation,
                     trial.n_envs, dict(trial.hyperparameters))
    pop.update(pop.collect())  # warm-up
    start, before = time.perf_counter(), pop.num_timesteps
    while pop.num_timesteps - before < steps:
        pop.update(pop.collect())
    rate = P * (pop.num_timesteps - before) / (time.perf_counter() - start)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"rate": rate, "params": trial.params, "peak_mb": hwm / 1024}))
"""


def measure(kind: str, env: str, budget: int, population: int, steps: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, env, str(budget), str(population), str(steps)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def matmul_gflops(n: int = 1024, repeats: int = 20) -> float:
    """Single-thread float32 matmul rate (best of ``repeats``)."""
    import torch

    torch.set_num_threads(1)
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def main() -> None:
    from bestiary.units import max_population

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="bestiary/AbsentSupervisor-v0")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    gflops = matmul_gflops()
    print(f"environment {args.env}; single-thread float32 matmul: {gflops:.1f} GFLOP/s; one torch thread; "
          f"{args.rounds} interleaved rounds, best rate, median ratio")  # fmt: skip
    header = f"{'params':>8} {'trainer':>22} {'organism-steps/s':>17} {'vs (a)':>7} {'of (c)':>7} {'peak MiB':>9}"
    print(header)
    for budget in SIZES:
        steps = {1_000: 163_840, 10_000: 81_920, 100_000: 20_480}[budget]
        planned = max_population(budget)
        sizes = sorted({*POPULATIONS, planned})
        kinds = [("sb3", 1), ("sb3-defaults", 1), *(("population", p) for p in sizes)]
        results: dict[tuple[str, int], list[dict]] = {k: [] for k in kinds}
        for _ in range(args.rounds):
            for kind, p in kinds:
                n = 4096 if kind == "sb3-defaults" else steps // (1 if kind == "sb3" else max(1, p // 4))
                results[(kind, p)].append(measure(kind, args.env, budget, p, n))
        params = results[("sb3", 1)][0]["params"]
        bound = gflops * 1e9 / (26 * params)
        for kind, p in kinds:
            runs = results[(kind, p)]
            best = max(r["rate"] for r in runs)
            ratio = statistics.median(r["rate"] / a["rate"] for r, a in zip(runs, results[("sb3", 1)], strict=True))
            peak = max(r["peak_mb"] for r in runs)
            label = {"sb3": "(a) sb3, Bestiary", "sb3-defaults": "(b) sb3, SB3 defaults"}.get(
                kind, f"(p) population P={p}" + (" *" if p == planned else "")
            )
            print(f"{params:>8,} {label:>22} {best:>17,.0f} {ratio:>6.1f}× {best / bound:>7.0%} {peak:>9,.0f}")
    print("* the population size the sweep planner chooses for that parameter count (bestiary/units.py)")


if __name__ == "__main__":
    main()
