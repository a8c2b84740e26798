"""Env-steps per second: Bestiary's batched VecEnv vs SB3's DummyVecEnv over the single env.

Run: ``.venv/bin/python benchmarks/env_throughput.py [--copies 256] [--steps 400] [--repeats 3]``

Both sides step the same number of copies with the same pre-drawn random actions, in one
process, one after the other, repeated; the best of the repeats is kept for each (the
least disturbed by other load on the machine). The single env is the bare class (no
Gymnasium wrappers), so the ratio is not inflated by wrapper overhead. Target: ≥ 20×.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv

import bestiary.envs as E
from bestiary.envs.vector import BatchedVecEnv


def steps_per_second(venv, actions: np.ndarray) -> float:
    venv.seed(0)
    venv.reset()
    start = time.perf_counter()
    for a in actions:
        venv.step(a)
    return actions.size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=256)
    parser.add_argument("--steps", type=int, default=400, help="vector steps per timing")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'environment':38} {'batched steps/s':>16} {'DummyVecEnv steps/s':>20} {'ratio':>7}")
    ratios = []
    for env_id in E.failure_mode_ids():
        definition = E.make_definition(env_id)
        batched = BatchedVecEnv(definition, args.copies)
        dummy = DummyVecEnv([lambda env_id=env_id: E.make_definition(env_id)] * args.copies)
        actions = np.random.default_rng(0).integers(definition.n_actions, size=(args.steps, args.copies))
        fast = slow = 0.0
        for _ in range(args.repeats):
            fast = max(fast, steps_per_second(batched, actions))
            slow = max(slow, steps_per_second(dummy, actions[: max(args.steps // 10, 20)]))
        ratios.append(fast / slow)
        print(f"{env_id:38} {fast:16,.0f} {slow:20,.0f} {fast / slow:6.1f}×")
    print(f"minimum ratio: {min(ratios):.1f}× (target ≥ 20×) with {args.copies} copies")


if __name__ == "__main__":
    main()
