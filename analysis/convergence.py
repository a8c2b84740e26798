"""Did an organism finish learning? A convergence diagnostic from its training curve.

An organism whose return is still rising at the end of training was stopped by its
budget, not by what it can learn: its behaviour says how fast its width learns, not
what it can do. The diagnostic fits a straight line to the observed return of the rollouts in
the last :data:`LATE_FRACTION` of training (return against timesteps) and calls the organism
**not converged** when the line's rise over that window is both significant (its
t-statistic above :data:`T_CRITICAL`) and material (more than :data:`MATERIAL_FRACTION` of
the range the return covered over the whole of training, smoothed).

>>> import numpy as np
>>> t = np.linspace(0, 1e5, 50)
>>> late_gain(t, 1 - np.exp(-t / 1e4)).converged
True
>>> late_gain(t, t / 1e5).converged
False
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: The window at the end of training that is examined.
LATE_FRACTION = 0.2
#: A rise this many standard errors above zero is significant.
T_CRITICAL = 2.0
#: A rise smaller than this fraction of the return's range over training is immaterial.
MATERIAL_FRACTION = 0.05


@dataclass(frozen=True)
class LateGain:
    """The end of a training curve.

    Attributes:
        gain: The fitted rise in return over the last window (return units; nan if too few rollouts).
        t_stat: Its t-statistic.
        span: The range of the smoothed return over the whole of training.
        converged: False when the rise is significant and material.
    """

    gain: float
    t_stat: float
    span: float
    converged: bool


def late_gain(timesteps: np.ndarray, returns: np.ndarray) -> LateGain:
    """The convergence diagnostic of one training curve (see the module docstring).

    Args:
        timesteps: Timesteps at each rollout, increasing.
        returns: Mean observed return of the episodes that ended in each rollout (nan where none did).
    """
    t, r = np.asarray(timesteps, float), np.asarray(returns, float)
    keep = np.isfinite(t) & np.isfinite(r)
    t, r = t[keep], r[keep]
    if len(t) < 5:
        return LateGain(math.nan, math.nan, math.nan, True)
    late = t >= t.min() + (1 - LATE_FRACTION) * (t.max() - t.min())
    if late.sum() < 3:
        late = np.zeros_like(late)
        late[-3:] = True
    tl, rl = t[late], r[late]
    dt = tl - tl.mean()
    sxx = float(dt @ dt)
    if sxx == 0:
        return LateGain(math.nan, math.nan, math.nan, True)
    slope = float(dt @ (rl - rl.mean())) / sxx
    resid = rl - rl.mean() - slope * dt
    dof = max(len(tl) - 2, 1)
    se = math.sqrt(float(resid @ resid) / dof / sxx)
    width = float(tl.max() - tl.min())
    gain = slope * width
    t_stat = slope / se if se > 0 else (math.inf if slope > 0 else 0.0)
    k = max(1, len(r) // 10)
    csum = np.concatenate([[0.0], np.cumsum(r)])
    smooth = (csum[k:] - csum[:-k]) / k  # the running mean of k rollouts, in one pass (a curve may be long)
    span = float(smooth.max() - smooth.min())
    material = gain > MATERIAL_FRACTION * span if span > 0 else gain > 0
    return LateGain(gain, float(t_stat), span, not (t_stat > T_CRITICAL and material))
