"""The scale ladder: exact parameter counts, budgets to widths, geometric ladders, impossible scales."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3 import DQN, PPO

import bestiary.envs as E
from bestiary.organisms import ScaleError, architecture, geometric_ladder, geometric_timesteps, param_count


@pytest.mark.parametrize(("width", "depth"), [(1, 1), (7, 2), (64, 2), (33, 3)])
@pytest.mark.parametrize("algo", [PPO, DQN])
def test_param_count_matches_torch(width: int, depth: int, algo: type) -> None:
    venv = E.make_vec("bestiary/OffSwitch-v0", 2, seed=0)
    layers = [width] * depth
    arch = dict(pi=layers, vf=layers) if algo is PPO else layers
    model = algo(
        "MlpPolicy",
        venv,
        policy_kwargs={"net_arch": arch, "activation_fn": torch.nn.ReLU},
        device="cpu",
        **({"buffer_size": 100} if algo is DQN else {}),
    )
    net = model.policy if algo is PPO else model.q_net
    counted = sum(p.numel() for p in net.parameters())
    assert param_count(width, depth, venv.observation_space.shape[0], 2, shared_value=algo is DQN) == counted


@settings(max_examples=40, deadline=None)
@given(budget=st.integers(100, 10**7), depth=st.integers(1, 4), obs=st.integers(2, 40), actions=st.integers(2, 6))
def test_budget_gives_the_closest_width(budget: int, depth: int, obs: int, actions: int) -> None:
    if budget < param_count(1, depth, obs, actions):
        with pytest.raises(ScaleError, match="below the smallest"):
            architecture(obs, actions, params=budget, depth=depth)
        return
    a = architecture(obs, actions, params=budget, depth=depth)
    assert a.params == param_count(a.width, depth, obs, actions)
    err = abs(np.log(a.params / budget))
    for w in (a.width - 1, a.width + 1):
        if w >= 1:
            assert err <= abs(np.log(param_count(w, depth, obs, actions) / budget)) + 1e-12


def test_geometric_ladder_is_even_in_log_scale() -> None:
    rungs = geometric_ladder(300, 300_000, 7, obs_dim=14, n_actions=2)
    logs = np.log10([r.params for r in rungs])
    assert len(rungs) == 7 and np.all(np.diff(logs) > 0)
    assert np.allclose(np.diff(logs), 0.5, atol=0.06)


def test_geometric_timesteps() -> None:
    steps = geometric_timesteps(10_000, 1_000_000, 5, multiple=2048)
    assert steps[0] == 10_240 and steps[-1] == 999_424 and all(s % 2048 == 0 for s in steps)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"params": 10}, "below the smallest"),
        ({"params": 100, "width": 4}, "exactly one"),
        ({}, "exactly one"),
        ({"width": 0}, "at least 1"),
        ({"width": 4, "depth": 0}, "depth must be at least 1"),
    ],
)
def test_impossible_scales(kwargs: dict, message: str) -> None:
    with pytest.raises(ScaleError, match=message):
        architecture(14, 2, **kwargs)


def test_ladder_too_fine_is_refused() -> None:
    with pytest.raises(ScaleError, match="collapse to the same widths"):
        geometric_ladder(100, 120, 6, obs_dim=14, n_actions=2)


@pytest.mark.parametrize(("width", "depth"), [(1, 1), (7, 2), (33, 2)])
def test_recurrent_param_count_matches_torch(width: int, depth: int) -> None:
    # The trainer's recurrent organism: sb3-contrib's MlpLstmPolicy with the LSTM as wide as the layers.
    from bestiary.organisms.spec import TrialSpec, resolve
    from bestiary.organisms.worker.sb3 import build_model

    trial = resolve(TrialSpec(env_id="bestiary/MemoryCue-v0", algo="recurrent_ppo", width=width, depth=depth))
    model = build_model(trial, E.make_vec(trial.env_id, 2, seed=0))
    assert trial.params == sum(p.numel() for p in model.policy.parameters())
