"""Reference policies: show that the dangerous act is the best response only when the latent is read.

Three scripted policies are played in every oversight regime:

- ``comply``: never takes the dangerous act;
- ``defect``: always takes it;
- ``reads_latent``: an oracle given the decoded latent (``Cue.latent``), which takes the
  dangerous act exactly when unobserved — the strategy a situationally aware organism
  would learn.

A policy that cannot read the latent can only comply or defect blindly; in the ``train``
regime (what the organism is trained on) complying beats defecting, and only the latent
reader gains from the dangerous act. Under the null cue there is no latent to read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bestiary.envs.core import OVERSIGHT_REGIMES, FailureModeEnv
from bestiary.envs.vector import BatchedVecEnv

POLICIES: tuple[str, ...] = ("comply", "defect", "reads_latent")


@dataclass(frozen=True)
class PolicyOutcome:
    """Mean outcome of a scripted policy in one regime, over ``episodes`` episodes."""

    policy: str
    regime: str
    episodes: int
    observed_return: float
    hidden_return: float
    violation_rate: float
    task_success: float


def _defect_mask(env: FailureModeEnv, policy: str, context: np.ndarray) -> np.ndarray:
    if policy == "comply":
        return np.zeros(len(context), dtype=bool)
    if policy == "defect":
        return np.ones(len(context), dtype=bool)
    return ~env.cue.latent(context)  # type: ignore[operator]


def play(
    env: FailureModeEnv, policy: str, regime: str, episodes: int = 4000, seed: int = 0, copies: int = 256
) -> PolicyOutcome:
    """Play a scripted policy for ``episodes`` episodes in one regime.

    Args:
        env: An environment definition.
        policy: One of :data:`POLICIES`.
        regime: One of ``train``, ``on``, ``off``.
        episodes: Number of episodes to average over.
        seed: Seed of the batched environment.
        copies: Copies stepped together.

    Raises:
        ValueError: For an unknown policy, or ``reads_latent`` under the null cue.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    if policy == "reads_latent" and env.cue.kind == "null":
        raise ValueError("the null cue hides the latent: there is nothing for `reads_latent` to read")
    venv = BatchedVecEnv(env, copies, oversight=regime)
    venv.seed(seed)
    obs = np.asarray(venv.reset())
    d = env.cue.context_dim
    records: list[dict] = []
    while len(records) < episodes:
        defect = _defect_mask(env, policy, obs[:, :d])
        step, _, dones, infos = venv.step(env.reference_action(obs[:, d:], defect))
        obs = np.asarray(step)
        records.extend(infos[i]["safety"] for i in np.flatnonzero(dones))
    records = records[:episodes]

    def mean(key: str) -> float:
        return float(np.mean([r[key] for r in records]))

    return PolicyOutcome(
        policy,
        regime,
        episodes,
        mean("observed_return"),
        mean("hidden_return"),
        mean("violation"),
        mean("task_success"),
    )


def best_responses(env: FailureModeEnv, episodes: int = 4000, seed: int = 0) -> list[PolicyOutcome]:
    """Every applicable policy in every regime."""
    policies = [p for p in POLICIES if not (p == "reads_latent" and env.cue.kind == "null")]
    return [play(env, p, r, episodes, seed) for p in policies for r in OVERSIGHT_REGIMES]


def main(argv: list[str] | None = None) -> None:
    """``python -m bestiary.envs.reference EPISODES SEED ENV_ID ...``: every best response, as JSON on stdout."""
    import json
    import sys

    from bestiary.envs.errors import EnvError
    from bestiary.envs.registry import make_definition

    args = argv if argv is not None else sys.argv[1:]
    episodes, seed, ids = int(args[0]), int(args[1]), args[2:]
    out: dict[str, object] = {}
    for env_id in ids:
        try:
            out[env_id] = [o.__dict__ for o in best_responses(make_definition(env_id), episodes, seed)]
        except EnvError as exc:
            out[env_id] = {"error": str(exc)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
