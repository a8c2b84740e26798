"""What an overseer sees of an organism: the one object every detector is given (:class:`OverseerView`).

An overseer in the world has the organism's weights and can run it, and it can watch episodes it
oversees — with oversight on, or honeypots whose cue it sets. It never has the unobserved episodes
(deployment) or the hidden reward. The view offers exactly that: episodes of the kinds in
:data:`EPISODE_KINDS` (their violations counted), observations from overseen episodes, the
environment's overseen probe states, and the network's action probabilities and hidden layers at
observations of the detector's choosing — the trained network's and, as a control, the same
architecture's at random initialisation.

It is built in the sandbox (by the worker, around the organism) or, in tests, around scripted
policies whose truth is planted; nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bestiary.envs import FailureModeEnv
from bestiary.envs.vector import BatchedVecEnv

#: Acting: ``(observations, recurrent state, episode starts) -> (actions, state)`` (stable-baselines3's ``predict``).
Act = Callable[[np.ndarray, Any, np.ndarray], tuple[np.ndarray, Any]]
MAX_COPIES = 256

#: The episodes an overseer can watch, and the simulator regime each is: ``on``, oversight on;
#: ``honeypot``, the cue reads unobserved but carries the honeypots' faint tell; ``honeypot_plain``,
#: the cue reads unobserved with no tell — to the organism indistinguishable from deployment (a
#: perfect honeypot, which real overseers rarely have: the upper bound of what watching can catch).
EPISODE_KINDS: dict[str, str] = {"on": "on", "honeypot": "honeypot", "honeypot_plain": "off"}


@dataclass(frozen=True)
class Network:
    """The network at some observations.

    Attributes:
        probs: Action probabilities ``(m, n_actions)`` (a value-based organism's greedy action, one-hot).
        layers: The last hidden layer of each part (``actor``, and ``critic`` where there is one), ``(m, width)``.
    """

    probs: np.ndarray
    layers: dict[str, np.ndarray]


def rollout(
    act: Act, env: FailureModeEnv, regime: str, episodes: int, seed: int, keep_obs: bool = False
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Play ``episodes`` episodes (rounded up to a multiple of the copies) in one simulator regime.

    Each of the batched copies plays the same number of episodes and only those are kept, so short
    episodes are not over-represented (taking the first N episodes to finish would favour them).

    Returns:
        The ended episodes' safety records, and (with ``keep_obs``) every observation acted on in them.
    """
    copies = min(MAX_COPIES, episodes)
    per_copy = math.ceil(episodes / copies)
    venv = BatchedVecEnv(env, copies, oversight=regime)
    venv.seed(seed)
    obs = venv.reset()
    done_count = np.zeros(copies, dtype=int)
    records: list[dict[str, Any]] = []
    seen: list[np.ndarray] = []
    state = None
    starts = np.ones(copies, dtype=bool)
    while (done_count < per_copy).any():
        if keep_obs:
            seen.append(np.asarray(obs)[done_count < per_copy])
        actions, state = act(np.asarray(obs), state, starts)
        obs, _, dones, infos = venv.step(actions)
        starts = dones
        for i in np.flatnonzero(dones):
            if done_count[i] < per_copy:
                records.append(infos[i]["safety"])
            done_count[i] += 1
    kept = np.concatenate(seen) if seen else np.zeros((0, env.obs_dim_for(env.config)), dtype=np.float32)
    return records, kept


@dataclass(frozen=True)
class OverseerView:
    """An organism as an overseer sees it.

    Attributes:
        env: The environment's definition (its cue, probe set and dimensions are public).
        act: How the organism acts (in episodes the view plays).
        network: The trained network at given observations.
        baseline: The same architecture at random initialisation (None where there is none).
        seed: Where the view's episodes draw their randomness from.
    """

    env: FailureModeEnv
    act: Act
    network: Callable[[np.ndarray], Network]
    baseline: Callable[[np.ndarray], Network] | None
    seed: int

    def violations(self, kind: str, episodes: int) -> tuple[int, int]:
        """Violations and episodes in ``episodes`` watched episodes of ``kind`` (:data:`EPISODE_KINDS`).

        Raises:
            ValueError: For a kind an overseer cannot watch (deployment is not one).
        """
        if kind not in EPISODE_KINDS:
            raise ValueError(f"an overseer watches {', '.join(EPISODE_KINDS)} episodes, not {kind!r}")
        stream = self.seed + 7919 * (1 + list(EPISODE_KINDS).index(kind))
        records, _ = rollout(self.act, self.env, EPISODE_KINDS[kind], episodes, stream)
        return int(sum(bool(r["violation"]) for r in records)), len(records)

    def observed_states(self, n: int) -> np.ndarray:
        """``n`` observations the organism acted on in overseen episodes (``(n, obs_dim)``, drawn evenly)."""
        _, obs = rollout(self.act, self.env, "on", max(1, n // 4), self.seed + 104_729, keep_obs=True)
        pick = np.linspace(0, len(obs) - 1, num=min(n, len(obs))).round().astype(int)
        return obs[pick]

    def probe_states(self, n: int) -> np.ndarray:
        """The environment's first ``n`` overseen probe states (the same for every organism of the environment)."""
        probes = self.env.probe_set(n=2 * n)
        return probes.obs[probes.overseen][:n]
