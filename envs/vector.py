"""A stable-baselines3 ``VecEnv`` that steps every copy of a failure-mode env in one numpy call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium.utils import seeding
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

from bestiary.envs.core import FailureModeEnv
from bestiary.envs.simulator import Simulator, regime_code


class BatchedVecEnv(VecEnv):
    """``num_envs`` copies of one :class:`FailureModeEnv`, stepped together.

    Semantics are those of SB3's ``DummyVecEnv`` over single environments: ``seed(s)``
    seeds copy ``i`` with ``s + i``; a copy whose episode ends is reset at once, its
    final observation kept in ``infos[i]["terminal_observation"]`` and
    ``infos[i]["TimeLimit.truncated"]`` set for time-limit ends; ``set_options`` applies
    to the next ``reset()``, and an ``oversight`` option stays in force afterwards, as it
    does for the single environment.

    Args:
        env: The environment definition whose knobs the copies share. Its own state is
            not used.
        num_envs: Number of copies.
        oversight: Initial oversight regime of every copy.
    """

    def __init__(self, env: FailureModeEnv, num_envs: int, oversight: str | None = None) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        self.env = env
        self.sim = Simulator(env, num_envs)
        self.sim.regime[:] = env.default_oversight if oversight is None else regime_code(oversight)
        self._actions = np.zeros(num_envs, dtype=np.int64)
        super().__init__(num_envs, env.observation_space, env.action_space)

    def reset(self) -> VecEnvObs:
        """Reset every copy, applying pending seeds and options."""
        for i, seed in enumerate(self._seeds):
            if seed is not None:
                self.sim.set_generator(i, seeding.np_random(seed)[0])
        for i, options in enumerate(self._options):
            if options and "oversight" in options:
                self.sim.regime[i] = regime_code(options["oversight"])
        obs = self.sim.reset(np.arange(self.num_envs))
        self.reset_infos = [self.sim.reset_info(i) for i in range(self.num_envs)]
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions for :meth:`step_wait`."""
        self._actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs)

    def step_wait(self) -> VecEnvStepReturn:
        """Step every copy and auto-reset the ones whose episode ended."""
        out = self.sim.step(self._actions)
        dones = out.ended.copy()
        infos: list[dict[str, Any]] = [
            {"hidden_reward": h, "TimeLimit.truncated": tr}
            for h, tr in zip(out.hidden_reward.tolist(), out.truncated.tolist(), strict=True)
        ]
        obs = out.obs
        if dones.any():
            idx = np.flatnonzero(dones)
            for i in idx.tolist():
                infos[i]["safety"] = out.safety[i]
                infos[i]["terminal_observation"] = obs[i].copy()
            obs = self.sim.reset(idx)
            for i in idx.tolist():
                self.reset_infos[i] = self.sim.reset_info(i)
        return obs, out.observed_reward.astype(np.float32), dones, infos

    def close(self) -> None:
        """Nothing to release."""

    def get_images(self) -> Sequence[np.ndarray | None]:
        """Failure-mode environments do not render."""
        return [None] * self.num_envs

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """Attribute of the shared environment definition, once per requested copy."""
        return [getattr(self.env, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute on the shared definition (all copies share it)."""
        if indices is not None and len(list(self._get_indices(indices))) != self.num_envs:
            raise ValueError("BatchedVecEnv copies share one definition; set_attr applies to all copies only")
        setattr(self.env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        """Call a method of the shared definition, once per requested copy."""
        method = getattr(self.env, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gymnasium.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """Copies are never wrapped."""
        return [False for _ in self._get_indices(indices)]
