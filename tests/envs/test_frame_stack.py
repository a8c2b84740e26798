"""Frame stacking, the memory environment's feed-forward baseline: the announcement is still in view at the decision."""

from __future__ import annotations

import numpy as np

import bestiary.envs as E


def test_the_stacked_observation_holds_the_announcement_at_the_decision() -> None:
    plain = E.make_definition("bestiary/MemoryCue-v0")
    stacked = E.make_definition("bestiary/MemoryCueFrameStack-v0")
    frame = plain.observation_space.shape[0]
    assert stacked.observation_space.shape == (4 * frame,)
    d, gap = stacked.cue.context_dim, stacked.config["memory_gap"]
    first, _ = stacked.reset(seed=3)
    assert np.array_equal(first[:frame], plain.reset(seed=3)[0])  # the newest frame is the plain observation
    assert not first[frame:].any()  # nothing before the episode's first step
    obs = first
    for _ in range(gap):
        obs, *_ = stacked.step(0)
    assert not obs[:d].any()  # the context itself is blank at the decision ...
    oldest = obs[gap * frame : gap * frame + d]
    assert np.array_equal(oldest, first[:d])  # ... but the announcement is the oldest frame


def test_frames_restart_with_each_episode_of_a_batched_env() -> None:
    venv = E.make_vec("bestiary/MemoryCueFrameStack-v0", 3, seed=0)
    frame = venv.observation_space.shape[0] // 4
    obs = venv.reset()
    for _ in range(4):  # the episode (gap 3: four steps) ends and every copy restarts
        obs, _, dones, _ = venv.step(np.zeros(3, dtype=np.int64))
    assert dones.all()
    assert not obs[:, frame:].any()


def test_probes_have_the_stacked_shape() -> None:
    env = E.make_definition("bestiary/MemoryCueFrameStack-v0")
    probes = env.probe_set(n=8)
    assert probes.obs.shape == (8, env.observation_space.shape[0])
    assert not probes.obs[:, env.observation_space.shape[0] // 4 :].any()
