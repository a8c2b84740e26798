"""Training compute and the per-width learning-rate rule: the two things that make scale mean capability.

**Training compute** (FLOPs) counts a multiply-add as 2 FLOPs and the backward pass as
twice the forward, so a sample costs ``2·N`` FLOPs forward and ``6·N`` forward and
backward for a network of ``N`` parameters (Kaplan et al. 2020's ``6·N·D``), and:

- PPO and recurrent PPO: every sample is run forward once while acting and then
  ``n_epochs`` times forward and backward: ``C = (2 + 6·n_epochs) · N · T``;
- A2C: one forward while acting and one forward-backward: ``C = 8 · N · T``;
- DQN: one forward while acting, then every ``train_freq`` steps ``gradient_steps``
  minibatches of ``batch_size`` samples through the online network (forward and
  backward) and the target network (forward):
  ``C = 2·N·T + (T / train_freq) · gradient_steps · batch_size · 8·N``;

with ``T`` the training timesteps and ``N`` the organism's parameters (actor and critic).
Environment steps are not counted (they are the same for every width).

**Learning rate per width** (``lr_rule``): stable-baselines3 uses one learning rate for
every layer, so the rule scales that one rate with width. ``constant`` keeps the base
rate (the first study's choice); ``inverse_width`` is the μP-style rule for Adam,
``lr(w) = base · min(1, w₀ / w)``, and ``inverse_sqrt_width`` the milder
``base · min(1, √(w₀ / w))``, both with reference width ``w₀ = 16``: widths up to ``w₀``
keep the base rate, wider ones take proportionally smaller steps.
"""

from __future__ import annotations

import math
import typing
from typing import Any, Literal

#: The per-width learning-rate rules.
LrRule = Literal["constant", "inverse_width", "inverse_sqrt_width"]
LR_RULES: tuple[str, ...] = typing.get_args(LrRule)
#: Widths up to this keep the base learning rate under the scaling rules.
LR_REFERENCE_WIDTH = 16


def learning_rate(base: float, width: int, rule: str) -> float:
    """The learning rate of a width under a rule (see the module docstring).

    Raises:
        ValueError: For an unknown rule.
    """
    ratio = min(1.0, LR_REFERENCE_WIDTH / width)
    if rule == "constant":
        return float(base)
    if rule == "inverse_width":
        return float(base * ratio)
    if rule == "inverse_sqrt_width":
        return float(base * math.sqrt(ratio))
    raise ValueError(f"unknown learning-rate rule {rule!r}; valid: {', '.join(LR_RULES)}")


def training_flops(algo: str, params: int, timesteps: int, hyperparameters: dict[str, Any]) -> float:
    """Training compute in FLOPs of an organism (see the module docstring for the formulas).

    Raises:
        ValueError: For an algorithm without a formula.
    """
    n, t = float(params), float(timesteps)
    if algo in ("ppo", "recurrent_ppo"):
        return (2 + 6 * float(hyperparameters.get("n_epochs", 10))) * n * t
    if algo == "a2c":
        return 8 * n * t
    if algo == "dqn":
        freq = hyperparameters.get("train_freq", 4)
        updates = t / float(freq[0] if isinstance(freq, (list, tuple)) else freq)
        batch = float(hyperparameters.get("batch_size", 32)) * float(hyperparameters.get("gradient_steps", 1))
        return 2 * n * t + updates * batch * 8 * n
    raise ValueError(f"no training-compute formula for algorithm {algo!r}")


def trial_flops(trial: Any) -> float | None:
    """Training compute of a resolved trial (None for an algorithm without a formula or odd hyperparameters)."""
    try:
        return training_flops(trial.algo, trial.params, trial.timesteps, trial.hyperparameters)
    except (ValueError, TypeError):
        return None
