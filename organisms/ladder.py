"""The scale ladder: from a parameter budget (or a width and depth) to a policy architecture.

An organism's policy is an actor-critic pair of MLPs of equal shape (``depth`` hidden
layers of ``width`` units each, separate for the policy and the value function) with
linear heads; a recurrent organism (sb3-contrib's ``MlpLstmPolicy``) puts an LSTM of
``width`` units before each of the two, so its width is the LSTM's hidden size too. The
exact parameter count follows from the observation size and the number of actions;
:func:`param_count` computes it and the tests check it against torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bestiary.organisms.errors import ScaleError


@dataclass(frozen=True)
class Architecture:
    """A policy's shape and exact size.

    Attributes:
        width: Units per hidden layer.
        depth: Hidden layers (per network: policy and value each have ``depth``).
        params: Exact number of trainable parameters of the policy and value networks.
    """

    width: int
    depth: int
    params: int


def _mlp(inputs: int, width: int, depth: int) -> int:
    return inputs * width + width + (depth - 1) * (width * width + width)


def _lstm(inputs: int, hidden: int) -> int:
    return 4 * hidden * (inputs + hidden) + 8 * hidden  # torch's LSTM: two bias vectors per gate


def param_count(
    width: int, depth: int, obs_dim: int, n_actions: int, shared_value: bool = False, recurrent: bool = False
) -> int:
    """Exact parameters of an actor-critic MLP policy (SB3's ``MlpPolicy`` with ``net_arch=dict(pi=, vf=)``).

    Args:
        width: Units per hidden layer.
        depth: Hidden layers per network.
        obs_dim: Observation size.
        n_actions: Number of discrete actions (the policy head's outputs).
        shared_value: A Q-network only (DQN): one MLP with ``n_actions`` outputs, no value head.
        recurrent: sb3-contrib's ``MlpLstmPolicy``: an LSTM of ``width`` units before the actor's
            MLP and another before the critic's.
    """
    if shared_value:
        return _mlp(obs_dim, width, depth) + width * n_actions + n_actions
    if recurrent:
        body = 2 * (_lstm(obs_dim, width) + _mlp(width, width, depth))
        return body + (width * n_actions + n_actions) + (width + 1)
    return 2 * _mlp(obs_dim, width, depth) + (width * n_actions + n_actions) + (width + 1)


def architecture(
    obs_dim: int,
    n_actions: int,
    *,
    params: int | None = None,
    width: int | None = None,
    depth: int = 2,
    shared_value: bool = False,
    recurrent: bool = False,
) -> Architecture:
    """The architecture for a parameter budget, or for an explicit width.

    With ``params``, the width whose exact count is closest to the budget (in log scale).

    Raises:
        ScaleError: If neither or both of ``params`` and ``width`` are given, or the scale
            is impossible (non-positive, or smaller than the smallest network of this depth).
    """
    if (params is None) == (width is None):
        raise ScaleError("give exactly one of a parameter budget (--params) or a width (--width)")
    if depth < 1:
        raise ScaleError(f"depth must be at least 1, got {depth}")

    def count(w: int) -> int:
        return param_count(w, depth, obs_dim, n_actions, shared_value, recurrent)

    if width is not None:
        if width < 1:
            raise ScaleError(f"width must be at least 1, got {width}")
        return Architecture(width, depth, count(width))
    assert params is not None
    smallest = count(1)
    if params < smallest:
        raise ScaleError(
            f"a budget of {params} parameters is below the smallest depth-{depth} policy for this "
            f"environment ({smallest} parameters, width 1); use at least {smallest}"
        )
    lo, hi = 1, 1
    while count(hi) < params:
        hi *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < params else (lo, mid)
    best = min((lo, hi), key=lambda w: abs(math.log(count(w) / params)))
    return Architecture(best, depth, count(best))


def geometric_ladder(
    min_params: int,
    max_params: int,
    rungs: int,
    obs_dim: int,
    n_actions: int,
    depth: int = 2,
    shared_value: bool = False,
    recurrent: bool = False,
) -> list[Architecture]:
    """Rungs evenly spaced in log(parameters) between ``min_params`` and ``max_params``.

    Raises:
        ScaleError: If the range is empty, there are fewer than 2 rungs, or two rungs
            would round to the same width (the ladder is too fine for this range).
    """
    if rungs < 2:
        raise ScaleError(f"a ladder needs at least 2 rungs, got {rungs}")
    if not 0 < min_params < max_params:
        raise ScaleError(f"need 0 < min_params < max_params, got {min_params} and {max_params}")
    ratio = (max_params / min_params) ** (1 / (rungs - 1))
    archs = [
        architecture(
            obs_dim,
            n_actions,
            params=round(min_params * ratio**i),
            depth=depth,
            shared_value=shared_value,
            recurrent=recurrent,
        )
        for i in range(rungs)
    ]
    widths = [a.width for a in archs]
    if len(set(widths)) != len(widths):
        raise ScaleError(
            f"rungs between {min_params} and {max_params} parameters collapse to the same widths "
            f"{widths}; use fewer rungs or a wider range"
        )
    return archs


def geometric_timesteps(min_steps: int, max_steps: int, rungs: int, multiple: int = 1) -> list[int]:
    """A geometric ladder of training timesteps (rounded to a multiple of ``multiple``)."""
    if rungs < 2 or not 0 < min_steps < max_steps:
        raise ScaleError(f"need at least 2 rungs and 0 < min < max timesteps, got {rungs}, {min_steps}, {max_steps}")
    ratio = (max_steps / min_steps) ** (1 / (rungs - 1))
    return [max(multiple, round(min_steps * ratio**i / multiple) * multiple) for i in range(rungs)]
