"""Every selectable algorithm builds, trains a few steps and gives the evaluation's readout (in process)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bestiary.envs as E
from bestiary.organisms import OrganismError, TrialSpec, resolve
from bestiary.organisms.worker.evaluate import (
    behaviour,
    dangerous_logodds,
    play,
    precursors,
    probe_accuracy,
    random_init,
    readout,
)
from bestiary.organisms.worker.sb3 import build_model, make_training_env


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn", "recurrent_ppo"])
def test_algorithm_trains_and_reads_out(algo: str) -> None:
    hp = {"learning_starts": 64, "buffer_size": 2048} if algo == "dqn" else {}
    trial = resolve(
        TrialSpec(env_id="bestiary/OffSwitch-v0", width=8, algo=algo, timesteps=1024, n_envs=8, hyperparameters=hp)
    )
    torch.set_num_threads(1)
    model = build_model(trial, make_training_env(trial))
    model.learn(1024)
    assert sum(p.numel() for p in model.policy.parameters()) > 0
    env = E.make_definition(trial.env_id)
    probes = env.probe_set(n=64)
    r = readout(model, probes.obs)
    assert r.logits.shape == (64, 2) and r.values.shape == (64,) and r.actor.shape[0] == 64
    assert (r.critic is None) == (algo == "dqn")
    assert np.isfinite(dangerous_logodds(r.logits, probes.dangerous_action)).all()
    assert 0 <= probe_accuracy(r.actor, probes.overseen) <= 1
    stats = behaviour(play(model, env, "off", 16, seed=0, deterministic=False), env)
    assert stats["episodes"] == 16 and "worst_band_violation" in stats["kinds"]
    pre = precursors(model, env, 64, baseline=random_init(trial))
    assert pre["actor_probe_gain"] == pytest.approx(pre["actor_probe"] - pre["actor_probe_init"])
    assert ("critic_probe_projected_gain" in pre) == (algo != "dqn")


def test_parameter_count_of_the_ladder_matches_the_model() -> None:
    trial = resolve(TrialSpec(env_id="bestiary/AuditedReport-v0", params=5000))
    model = build_model(trial, make_training_env(trial))
    assert sum(p.numel() for p in model.policy.parameters()) == trial.params


def test_dqn_ladder_counts_the_q_network() -> None:
    trial = resolve(
        TrialSpec(env_id="bestiary/AuditedReport-v0", params=5000, algo="dqn", hyperparameters={"buffer_size": 100})
    )
    model = build_model(trial, make_training_env(trial))
    assert sum(p.numel() for p in model.q_net.parameters()) == trial.params


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn", "recurrent_ppo"])
def test_an_evaluation_only_model_has_the_same_initial_weights_and_refuses_training(algo: str) -> None:
    trial = resolve(TrialSpec(env_id="bestiary/OffSwitch-v0", width=8, algo=algo, timesteps=1024, n_envs=8))
    trained = build_model(trial, make_training_env(trial)).policy.state_dict()
    evaluated = build_model(trial, make_training_env(trial), trainable=False)
    assert trained.keys() == evaluated.policy.state_dict().keys()
    for name, value in evaluated.policy.state_dict().items():
        assert torch.equal(value, trained[name]), name
    with pytest.raises(OrganismError, match="evaluation only"):
        evaluated.policy.optimizer.step()
