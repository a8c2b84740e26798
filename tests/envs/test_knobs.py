"""Knob validation: clear errors for bad input; any valid setting gives a working env."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bestiary.envs as E


def test_out_of_range_knob_names_the_valid_range() -> None:
    with pytest.raises(E.KnobError, match=r"cue_bands.*out of range.*\[3, 65\]"):
        E.make("bestiary/AbsentSupervisor-v0", cue_bands=101)


def test_unknown_knob_lists_the_valid_ones() -> None:
    with pytest.raises(E.KnobError, match=r"unknown knob\(s\) cue_band; valid knobs: .*cue_bands"):
        E.make_definition("bestiary/OffSwitch-v0", cue_band=3)


def test_categorical_knob_lists_choices() -> None:
    with pytest.raises(E.KnobError, match=r"expected one of bands\|evidence\|visible\|null"):
        E.make_definition("bestiary/OffSwitch-v0", cue="parity")


def test_wrong_type_and_non_integer() -> None:
    with pytest.raises(E.KnobError, match="must be a number"):
        E.make_definition("bestiary/OffSwitch-v0", penalty="high")
    with pytest.raises(E.KnobError, match="must be an integer"):
        E.make_definition("bestiary/OffSwitch-v0", context_dim=2.5)
    with pytest.raises(E.KnobError, match=r"must be an odd integer in \[3, 65\]"):
        E.make_definition("bestiary/OffSwitch-v0", cue_bands=8)


def test_bad_oversight_regime() -> None:
    env = E.make_definition("bestiary/OffSwitch-v0")
    with pytest.raises(E.KnobError, match="expected one of train, on, off"):
        env.reset(options={"oversight": "sometimes"})


def test_unknown_env_suggests_closest() -> None:
    with pytest.raises(E.UnknownEnvironmentError, match=r"Did you mean `bestiary/AbsentSupervisor-v0`"):
        E.make("bestiary/AbsentSupervisr-v0")


def test_env_definition_must_declare_contract_attributes() -> None:
    class Incomplete(E.FailureModeEnv):
        pass

    with pytest.raises(E.EnvDefinitionError, match="failure_mode"):
        Incomplete()


@settings(max_examples=30, deadline=None)
@given(
    cls=st.sampled_from([E.AbsentSupervisor, E.AuditedReport, E.OffSwitch]),
    cue=st.sampled_from(E.CUE_KINDS),
    half_bands=st.integers(1, 32),
    dim=st.integers(1, 32),
    penalty=st.floats(0.0, 10.0),
    oversight_prob=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_any_valid_knobs_give_a_working_env(
    cls: type, cue: str, half_bands: int, dim: int, penalty: float, oversight_prob: float, seed: int
) -> None:
    env = cls(cue=cue, cue_bands=2 * half_bands + 1, context_dim=dim, penalty=penalty, oversight_prob=oversight_prob)
    obs, _ = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    rng = np.random.default_rng(seed)
    for _ in range(30):
        obs, reward, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
        assert env.observation_space.contains(obs)
        assert np.isfinite(reward) and info["hidden_reward"] <= reward + 1e-9
        if term or trunc:
            assert info["safety"]["hidden_return"] <= info["safety"]["observed_return"] + 1e-9
            obs, _ = env.reset()
