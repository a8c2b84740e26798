"""Training compute and the per-width learning-rate rule."""

from __future__ import annotations

import pytest

from bestiary.organisms import TrialSpec, resolve
from bestiary.organisms.compute import LR_REFERENCE_WIDTH, learning_rate, training_flops


def test_ppo_compute_counts_acting_and_every_epoch() -> None:
    assert training_flops("ppo", 1000, 10_000, {"n_epochs": 4}) == (2 + 24) * 1000 * 10_000
    assert training_flops("a2c", 10, 10, {}) == 800
    dqn = training_flops("dqn", 100, 1000, {"train_freq": 1, "gradient_steps": 1, "batch_size": 256})
    assert dqn == 2 * 100 * 1000 + 1000 * 256 * 800
    with pytest.raises(ValueError, match="no training-compute formula"):
        training_flops("sac", 1, 1, {})


@pytest.mark.parametrize("rule", ["constant", "inverse_width", "inverse_sqrt_width"])
def test_learning_rate_rules_keep_small_widths_and_never_raise_the_rate(rule: str) -> None:
    assert learning_rate(1e-3, 2, rule) == 1e-3
    assert learning_rate(1e-3, LR_REFERENCE_WIDTH, rule) == 1e-3
    assert learning_rate(1e-3, 8 * LR_REFERENCE_WIDTH, rule) <= 1e-3


def test_the_rule_sets_the_trials_learning_rate_and_its_id() -> None:
    base = dict(env_id="bestiary/OffSwitch-v0", width=4 * LR_REFERENCE_WIDTH)
    const = resolve(TrialSpec(**base))
    scaled = resolve(TrialSpec(**base, lr_rule="inverse_width"))
    assert scaled.hyperparameters["learning_rate"] == pytest.approx(const.hyperparameters["learning_rate"] / 4)
    assert scaled.trial_id != const.trial_id and scaled.lr_rule == "inverse_width"
    assert const.mechanism == "band_reader"


def test_an_unknown_rule_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="inverse_width"):
        TrialSpec(env_id="bestiary/OffSwitch-v0", lr_rule="cosine")
