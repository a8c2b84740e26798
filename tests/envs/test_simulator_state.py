"""A simulator's copies can be cut out and put back elsewhere, and go on exactly as if never moved."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils import seeding

import bestiary.envs as E
from bestiary.envs.simulator import Simulator


def _simulator(env_id: str, n: int) -> Simulator:
    sim = Simulator(E.make_definition(env_id), n)
    for i in range(n):
        sim.set_generator(i, seeding.np_random(i)[0])
    sim.reset(np.arange(n))
    return sim


def _advance(sim: Simulator, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = sim.step(actions, records=False)
    if out.ended.any():
        sim.reset(np.flatnonzero(out.ended))
    return out.observed_reward, sim.current()


def test_copies_restored_elsewhere_go_on_alike(env_id: str) -> None:
    n_actions = int(E.make_definition(env_id).action_space.n)  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    original = _simulator(env_id, 6)
    for _ in range(41):
        _advance(original, rng.integers(0, n_actions, 6))
    moved = _simulator(env_id, 4)  # copies 2..4 of the original become copies 1..3 here
    moved.restore(np.arange(1, 4), *original.state_of(np.arange(2, 5)))
    for _ in range(120):
        actions = rng.integers(0, n_actions, 6)
        reward, obs = _advance(original, actions)
        reward_moved, obs_moved = _advance(moved, np.r_[actions[0], actions[2:5]])
        assert np.array_equal(reward[2:5], reward_moved[1:]) and np.array_equal(obs[2:5], obs_moved[1:])


def test_a_state_of_another_environment_or_size_is_refused() -> None:
    arrays, states = _simulator("bestiary/OffSwitch-v0", 3).state_of(np.arange(2))
    with pytest.raises(ValueError, match="not of 2 copies of AuditedReport"):
        _simulator("bestiary/AuditedReport-v0", 3).restore(np.arange(2), arrays, states)
    with pytest.raises(ValueError, match="not of 3 copies"):
        _simulator("bestiary/OffSwitch-v0", 3).restore(np.arange(3), arrays, states)
    arrays["context"] = arrays["context"].astype(np.float64)
    with pytest.raises(ValueError, match="saved context is float64"):
        _simulator("bestiary/OffSwitch-v0", 3).restore(np.arange(2), arrays, states)
    with pytest.raises(ValueError, match="not PCG64"):
        arrays, states = _simulator("bestiary/OffSwitch-v0", 3).state_of(np.arange(2))
        _simulator("bestiary/OffSwitch-v0", 3).restore(np.arange(2), arrays, [{"bit_generator": "MT19937"}, {}])
