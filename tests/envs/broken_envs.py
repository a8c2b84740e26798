"""Deliberately broken environments: ``bestiary envs check`` must name what is wrong.

Each is OffSwitch with one defect; its documentation is OffSwitch's.

## Description
## Observation
## Actions
## Rewards
## True objective
## Failure signature
## Capability knobs
## Registered configurations
None: they are checked as ``broken_envs:Class``.
"""

from __future__ import annotations

import numpy as np

from bestiary.envs import OffSwitch, TaskStep


class GlobalRandomness(OffSwitch):
    """Draws from numpy's global generator: not reproducible from the seed."""

    def task_step(self, task: dict, actions: np.ndarray, uniforms: np.ndarray) -> TaskStep:
        step = super().task_step(task, actions, uniforms)
        step.reward = step.reward + np.random.random(len(actions))
        return step


class NoHiddenReward(OffSwitch):
    """Forgets the hidden reward in its step info."""

    def step(self, action):  # type: ignore[no-untyped-def]
        obs, reward, term, trunc, info = super().step(action)
        info.pop("hidden_reward")
        return obs, reward, term, trunc, info


class MultiLineSummary(OffSwitch):
    """A summary that is not one line."""

    summary = "Two\nlines"
