"""The reference trainer: one organism at a time with stable-baselines3 (inside the sandbox).

The policy is an actor-critic MLP of the resolved width and depth (separate networks for
the policy and the value, ReLU), trained on the environment's batched ``VecEnv`` with one
torch thread. Every rollout makes a learning-curve row and reports progress.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

from bestiary import envs
from bestiary.organisms.errors import OrganismError
from bestiary.organisms.protocol import SOURCE_DIR, TrainRow, UnitManifest
from bestiary.organisms.spec import ResolvedTrial
from bestiary.organisms.streams import stream_base
from bestiary.organisms.worker.trainer import Report, Trained, staged_trial
from bestiary.organisms.worker.weights import load_organism

ACTIVATIONS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}


def algo_class(algo: str) -> type[BaseAlgorithm]:
    """The SB3 (or sb3-contrib) class of an algorithm name.

    Raises:
        OrganismError: If ``recurrent_ppo`` is asked for without sb3-contrib installed.
    """
    if algo == "recurrent_ppo":
        try:
            from sb3_contrib import RecurrentPPO
        except ImportError as exc:
            raise OrganismError("recurrent_ppo needs sb3-contrib: pip install 'bestiary[contrib]'") from exc
        return RecurrentPPO
    classes: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN}
    return classes[algo]


class NoOptimizer:
    """The optimiser of a model that is only evaluated.

    SB3 builds an optimiser with every policy; a torch ``Optimizer`` imports
    ``torch._dynamo`` on construction, about a second of a sandboxed process's start-up,
    for a model whose weights are loaded, never trained.
    """

    def __init__(self, params: Any, **kwargs: Any) -> None:
        self.param_groups: list[dict[str, Any]] = []

    def step(self, *args: Any, **kwargs: Any) -> None:
        """Refuse: this model is not trained."""
        raise OrganismError("this model was built for evaluation only (build_model(..., trainable=False))")


def build_model(trial: ResolvedTrial, venv: VecEnv, trainable: bool = True) -> BaseAlgorithm:
    """An untrained model of the trial's algorithm and architecture on ``venv``.

    Args:
        trial: The resolved trial.
        venv: Its environment.
        trainable: False for a model that is only evaluated (no optimiser; the same
            initial weights).
    """
    layers = [trial.width] * trial.depth
    activation = ACTIVATIONS[trial.activation]
    hp = dict(trial.hyperparameters)
    net_arch: list[int] | dict[str, list[int]]
    if trial.algo == "dqn":
        policy, net_arch = "MlpPolicy", layers
    elif trial.algo == "recurrent_ppo":
        policy, net_arch = "MlpLstmPolicy", {"pi": layers, "vf": layers}
        hp.setdefault("policy_kwargs", {})["lstm_hidden_size"] = trial.width
    else:
        policy, net_arch = "MlpPolicy", {"pi": layers, "vf": layers}
    policy_kwargs = {"net_arch": net_arch, "activation_fn": activation, **hp.pop("policy_kwargs", {})}
    if not trainable:
        policy_kwargs["optimizer_class"] = NoOptimizer
    return algo_class(trial.algo)(
        policy, venv, seed=trial.seed, device="cpu", verbose=0, policy_kwargs=policy_kwargs, **hp
    )


def evaluation_model(trial: ResolvedTrial, state: dict[str, Any]) -> BaseAlgorithm:
    """A model of the trial's architecture holding ``state`` (SB3's parameter names), built for evaluation only."""
    model = build_model(trial, make_training_env(trial), trainable=False)
    model.policy.load_state_dict(state)
    return model


def architecture_json(trial: ResolvedTrial, params: int) -> dict[str, Any]:
    """``organism/architecture.json``'s description of a trained organism (the weights' hash is added on saving)."""
    return {
        "algo": trial.algo,
        "width": trial.width,
        "depth": trial.depth,
        "activation": trial.activation,
        "obs_dim": trial.obs_dim,
        "n_actions": trial.n_actions,
        "params": params,
        "env_id": trial.env_id,
        "trial_id": trial.trial_id,
    }


def make_training_env(trial: ResolvedTrial) -> VecEnv:
    """The batched training environment of a trial, seeded, in its training regime."""
    return envs.make_vec(
        trial.env_id, trial.n_envs, seed=stream_base(trial.seed, "train"), oversight=trial.oversight, **trial.env_kwargs
    )


class TrainLog(BaseCallback):
    """Collects episode safety records; makes a learning-curve row and reports progress per rollout."""

    def __init__(self, total: int, report: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self.total, self.report = total, report
        self.records: list[dict[str, Any]] = []
        self.rows: list[TrainRow] = []
        self.episodes = 0
        self.start = time.perf_counter()

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            safety = info.get("safety")
            if safety is not None:
                self.records.append(safety)
        return True

    def _on_rollout_end(self) -> None:
        if not self.records:
            return
        rec = self.records
        unobserved = [r["violation"] for r in rec if not r["overseen"]]
        overseen = [r["violation"] for r in rec if r["overseen"]]
        self.episodes += len(rec)
        row = TrainRow(
            timesteps=self.num_timesteps,
            episodes=self.episodes,
            observed_return=float(np.mean([r["observed_return"] for r in rec])),
            hidden_return=float(np.mean([r["hidden_return"] for r in rec])),
            violation_rate=float(np.mean([r["violation"] for r in rec])),
            violation_rate_unobserved=float(np.mean(unobserved)) if unobserved else float("nan"),
            violation_rate_overseen=float(np.mean(overseen)) if overseen else float("nan"),
            steps_per_second=self.num_timesteps / max(time.perf_counter() - self.start, 1e-9),
        )
        self.rows.append(row)
        self.report({**row.model_dump(), "total": self.total})
        self.records = []


class Sb3Trainer:
    """The reference trainer: each organism on its own, by stable-baselines3 (see :class:`~.loop.Trainer`)."""

    name = "sb3"
    announces = False  # an sb3 unit's organisms are recorded when the unit ends

    def organisms(
        self, unit: UnitManifest, staging: Path, report: Report
    ) -> Iterator[tuple[str, Callable[[], Trained]]]:
        """One organism at a time, trained when the loop asks for it (a failure stops only that organism)."""
        for tid in unit.trials:
            source = staging / tid / SOURCE_DIR if tid in unit.sources else None
            yield tid, functools.partial(self.train_one, staging, tid, source, report)

    @staticmethod
    def train_one(staging: Path, tid: str, source: Path | None, report: Report) -> Trained:
        """Train one organism (from the organism in ``source``, if given)."""
        trial = staged_trial(staging, tid)
        init_state = load_organism(source)[1] if source else None
        model, facts, rows = train(trial, lambda p: report({**p, "trial": trial.trial_id}), init_state)
        return Trained(trial, model.policy.state_dict(), rows, facts, lambda: model)


def train(
    trial: ResolvedTrial,
    report: Callable[[dict[str, Any]], None],
    init_state: dict[str, Any] | None = None,
) -> tuple[BaseAlgorithm, dict[str, Any], list[TrainRow]]:
    """Train the trial's organism.

    Args:
        trial: The resolved trial.
        report: Called with a progress dict after every rollout.
        init_state: Weights to start from (continued training).

    Returns:
        The trained model, training facts (seconds, timesteps, parameters), and its learning curve.
    """
    torch.set_num_threads(1)
    venv = make_training_env(trial)
    model = build_model(trial, venv)
    if init_state is not None:
        missing, unexpected = model.policy.load_state_dict(init_state, strict=False)
        if missing or unexpected:
            raise OrganismError(
                f"the source organism's weights do not fit this architecture (missing {missing}, "
                f"unexpected {unexpected})"
            )
    params = sum(p.numel() for p in model.policy.parameters() if p.requires_grad)
    start = time.perf_counter()
    log = TrainLog(trial.timesteps, report)
    model.learn(trial.timesteps, callback=log)
    seconds = time.perf_counter() - start
    facts = {
        "training_seconds": seconds,
        "timesteps": int(model.num_timesteps),
        "params_torch": params,
        "steps_per_second": model.num_timesteps / max(seconds, 1e-9),
    }
    return model, facts, log.rows


def benchmark(trial: ResolvedTrial, seconds: float) -> float:
    """Train one organism for about ``seconds`` (after one warm-up rollout); return its training rate (steps/s)."""
    torch.set_num_threads(1)
    model = build_model(trial, make_training_env(trial))
    chunk = trial.n_envs * int(trial.hyperparameters.get("n_steps", 32))
    model.learn(chunk)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        model.learn(chunk, reset_num_timesteps=False)
        steps += chunk
    return steps / (time.perf_counter() - start)
