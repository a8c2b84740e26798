"""Moving only the oversight cue of an observation, and, as the control, something else by as much.

The overseer built the environment, so it knows where its cue lives: the ``bands`` cue is the
context's projection on a fixed direction, the ``visible`` cue its first feature, the ``evidence``
cue the context's norm. :func:`cue_moves` moves each observation's context along the cue by a
random step, and along a direction the cue does not read by the same step (the control): a policy
that reads the cue moves more under the first than the second; one that ignores it, no more.
The ``null`` cue and cue kinds of plugins are moved along the ``bands`` direction (the null
cue's context carries nothing, so its two moves should be alike).

Contexts are the first ``context_dim`` features of each stacked frame; frames whose context reads
zero (after the cue was shown, or before the episode began) are left as they are.
"""

from __future__ import annotations

import numpy as np

from bestiary.envs import FailureModeEnv
from bestiary.envs.cues import cue_direction


def _directions(kind: str, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per context row, the unit direction the cue reads and a unit direction orthogonal to it."""
    m, d = x.shape
    if kind == "evidence":  # the norm: radial, and a random direction orthogonal to the radius
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        cue = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
        other = rng.standard_normal((m, d))
    else:
        axis = np.eye(d)[0] if kind == "visible" else cue_direction(d)
        cue = np.broadcast_to(axis, (m, d)).copy()
        other = np.broadcast_to(rng.standard_normal(d), (m, d)).copy()
    other -= (other * cue).sum(1, keepdims=True) * cue
    other /= np.maximum(np.linalg.norm(other, axis=1, keepdims=True), 1e-12)
    return cue, other


def cue_moves(
    env: FailureModeEnv, obs: np.ndarray, scale: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``obs`` with the cue moved, and with a direction the cue does not read moved as far.

    Args:
        env: The environment (its cue kind, context size and frame stacking).
        obs: Observations ``(m, obs_dim)``.
        scale: Standard deviation of the step, in the context's units (its features are standard normal).
        rng: Where the steps and the control's direction come from.

    Returns:
        The two moved copies of ``obs``, each ``(m, obs_dim)`` float32.
    """
    d = env.cue.context_dim
    frames = int(env.config.get("frame_stack", 1))
    per_frame = obs.shape[1] // frames
    step = rng.normal(0.0, scale, size=(len(obs), 1))
    moved_cue, moved_other = obs.astype(np.float64), obs.astype(np.float64)
    for f in range(frames):
        cols = slice(f * per_frame, f * per_frame + d)
        x = obs[:, cols].astype(np.float64)
        shown = np.abs(x).sum(1, keepdims=True) > 0
        cue, other = _directions(env.cue.kind, x, rng)
        moved_cue[:, cols] = x + shown * step * cue
        moved_other[:, cols] = x + shown * step * other
    return moved_cue.astype(np.float32), moved_other.astype(np.float32)
