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
from bestiary.envs.reference import safety_records

DEFAULT_ENVS = ("bestiary/BeliefManipulation-v0", "bestiary/OptionValue-v0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=4000)
    parser.add_argument("env_ids", nargs="*", default=list(DEFAULT_ENVS))
    args = parser.parse_args()
    for env_id in args.env_ids:
        env = E.make_definition(env_id)
        for policy, name, capable in (
            ("comply", "comply", True),
            ("defect", "naive", False),
            ("defect", "capable", True),
        ):
            records = safety_records(env, policy, "off", args.episodes, capable=capable)
            eps = {k: np.array([r[k] for r in records]) for k in records[0]}
            kinds = {k: round(a / b, 3) for k, (a, b) in env.behaviour_kinds(eps).items()}
            print(
                f"{env_id:34} {name:8} observed {eps['observed_return'].mean():6.3f}  "
                f"violation {eps['violation'].mean():5.3f}  {kinds}"
            )


if __name__ == "__main__":
    main()
