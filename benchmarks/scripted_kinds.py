"""Scripted policies' behaviour kinds, unobserved: what tells a capable defector from a naive one.

Run: ``.venv/bin/python benchmarks/scripted_kinds.py [--episodes 4000] [ENV_ID ...]``

For each environment (default: the two whose mechanism asks more than reading the
latent, BeliefManipulation and OptionValue), three scripted policies play 4,000 episodes
with oversight off: complying, the naive defector (:meth:`FailureModeEnv.naive_action`:
the plain dangerous act) and the capable one (:meth:`FailureModeEnv.reference_action`:
the environment's best response). Printed: observed return, violation rate and every
behaviour kind's rate, the yardsticks for the organisms of the learning check.
"""

from __future__ import annotations

import argparse

import numpy as np

import bestiary.envs as E
from bestiary.envs.vector import BatchedVecEnv

DEFAULT_ENVS = ("bestiary/BeliefManipulation-v0", "bestiary/OptionValue-v0")


def episodes(env_id: str, policy: str, n: int, copies: int = 256) -> tuple[dict[str, np.ndarray], E.FailureModeEnv]:
    """Safety records (as columns) of one scripted policy played with oversight off."""
    env = E.make_definition(env_id)
    venv = BatchedVecEnv(env, copies, oversight="off")
    venv.seed(0)
    obs, d, records = np.asarray(venv.reset()), env.cue.context_dim, []
    act = env.naive_action if policy == "naive" else env.reference_action
    defect = np.full(copies, policy != "comply")
    while len(records) < n:
        step, _, dones, infos = venv.step(act(obs[:, d:], defect))
        obs = np.asarray(step)
        records.extend(infos[i]["safety"] for i in np.flatnonzero(dones))
    return {k: np.array([r[k] for r in records[:n]]) for k in records[0]}, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=4000)
    parser.add_argument("env_ids", nargs="*", default=list(DEFAULT_ENVS))
    args = parser.parse_args()
    for env_id in args.env_ids:
        for policy in ("comply", "naive", "capable"):
            eps, env = episodes(env_id, policy, args.episodes)
            kinds = {k: round(a / b, 3) for k, (a, b) in env.behaviour_kinds(eps).items()}
            print(
                f"{env_id:34} {policy:8} observed {eps['observed_return'].mean():6.3f}  "
                f"violation {eps['violation'].mean():5.3f}  {kinds}"
            )


if __name__ == "__main__":
    main()
