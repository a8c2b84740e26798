"""Collapse tests: does emergence depend on compute alone, or on parameters alone?

The **collapse test** asks whether emergence depends on compute alone (or parameters
alone): a logistic in ``z = a · log10 N + (1 − a) · log10 C`` is fitted with ``a`` free and
with ``a = 0`` (compute only) and ``a = 1`` (parameters only). The test is a bootstrap by
*training run*: the budgets of one (parameters, seed) are checkpoints of one run, not
independent organisms, so whole runs are resampled within each parameter rung, ``a`` is refitted
on every draw, and the p-value is the two-sided share of draws on the far side of the
restriction (an F test on organisms as independent replicates rejected "compute alone" in
30–40 % of tables where it held, at a nominal 5 %). The quasi-likelihood F statistic
``ΔD / φ̂`` is kept as a description. A large p-value says the data cannot tell emergence
from a function of compute alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from bestiary.analysis.batched import fit_binomial
from bestiary.analysis.surface import _aggregate, _organisms


def _collapse(theta: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Logistic in ``a · log10 N + (1 − a) · log10 C`` for a batch ``(B, 5)``: (floor, ceiling, m, s, a)."""
    f, c, m, s, a = (theta[:, i : i + 1] for i in range(5))
    return f + (c - f) * expit(s * (a * xy[:, 0] + (1 - a) * xy[:, 1] - m))


@dataclass(frozen=True)
class Collapse:
    """The collapse test of one variable (compute or parameters).

    Attributes:
        onto: ``compute`` or ``params``.
        a: The weight of log10 N in the free fit (0: compute alone, 1: parameters alone).
        f_stat: Quasi-likelihood F statistic of the restriction.
        p_value: Two-sided p-value of the restriction from the bootstrap by training run.
        dof: Residual degrees of freedom of the free fit.
        dispersion: The organisms' Pearson over-dispersion about the free fit.
    """

    onto: str
    a: float
    f_stat: float
    p_value: float
    dof: int
    dispersion: float

    @property
    def collapses(self) -> bool:
        """No evidence (at 5 %) against emergence being a function of this variable alone."""
        return bool(self.p_value >= 0.05)


def _run_ids(data: pd.DataFrame) -> np.ndarray:
    """One label per organism (as :func:`_organisms` keeps them) naming its training run: (parameters, seed)."""
    need = ["params", "timesteps", "successes", "trials"]
    d = data.dropna(subset=need)
    d = d[(d.params > 0) & (d.timesteps > 0) & (d.trials > 0)]
    if "seed" not in d:
        return np.arange(len(d))  # no seeds: every organism its own run
    keys = d.params.astype(float).astype(str) + "|" + d.seed.astype(str)
    return pd.factorize(keys)[0]


def _run_weights(runs: np.ndarray, n: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, organisms)``: whole training runs resampled with replacement within each parameter rung."""
    rng = np.random.default_rng(seed)
    w = np.zeros((n_boot, len(runs)))
    for rung in np.unique(n):
        rung_runs = np.unique(runs[n == rung])
        counts = rng.multinomial(len(rung_runs), np.full(len(rung_runs), 1 / len(rung_runs)), size=n_boot)
        for j, r in enumerate(rung_runs):
            w[:, runs == r] = counts[:, j : j + 1]
    return w


def collapse_tests(data: pd.DataFrame, n_boot: int = 200, seed: int = 0) -> list[Collapse]:
    """The collapse tests onto compute and onto parameters (see the module docstring)."""
    n, t, k, trials, compute = _organisms(data)
    runs = _run_ids(data)
    if not np.isfinite(compute).all():
        compute = n * t
    xy = np.column_stack([np.log10(n), np.log10(compute)])
    cells, inverse = np.unique(xy, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    ones = np.ones((1, len(n)))
    kc, nc = _aggregate(ones, k, inverse, len(cells)), _aggregate(ones, trials, inverse, len(cells))
    y = k / trials
    lz = cells[:, 1]
    starts = [
        [float(y.min()), float(y.max()), m, s, a]
        for m in np.linspace(lz.min(), lz.max(), 5)
        for s in (1.0, 4.0)
        for a in (0.0, 0.5, 1.0)
    ]
    span_lo = min(cells[:, 0].min(), lz.min()) - 3
    span_hi = max(cells[:, 0].max(), lz.max()) + 3

    def box(a_lo: float, a_hi: float) -> tuple[np.ndarray, np.ndarray]:
        return np.array([0.0, 0.0, span_lo, 0.05, a_lo]), np.array([1.0, 1.0, span_hi, 40.0, a_hi])

    def best(a_lo: float, a_hi: float) -> tuple[np.ndarray, float]:
        lo, hi = box(a_lo, a_hi)
        st = np.clip(np.array(starts, float), lo, hi)
        th, nll = fit_binomial(
            _collapse, None, cells, np.repeat(kc, len(st), 0), np.repeat(nc, len(st), 0), st, lo, hi,
            starts_of_one=True,
        )  # fmt: skip
        i = int(np.argmin(nll))
        return th[i], float(nll[i])

    free, nll_free = best(-1.0, 2.0)
    p = np.clip(_collapse(free[None], xy)[0], 1e-9, 1 - 1e-9)
    dof = max(len(n) - 5, 1)
    phi = max(float(np.sum((k - trials * p) ** 2 / (trials * p * (1 - p)))) / dof, 1.0)
    # The free fit's a on tables resampled by training run, every draw refitted at once from the estimate.
    w = _run_weights(runs, n, n_boot, seed)
    lo, hi = box(-1.0, 2.0)
    theta_b, _ = fit_binomial(
        _collapse, None, cells, _aggregate(w, k, inverse, len(cells)), _aggregate(w, trials, inverse, len(cells)),
        np.repeat(free[None], n_boot, 0), lo, hi,
    )  # fmt: skip
    a_b = theta_b[:, 4]
    out = []
    for onto, a in (("compute", 0.0), ("params", 1.0)):
        _, nll_fixed = best(a, a)
        f_stat = max(2 * (nll_fixed - nll_free), 0.0) / phi
        below, above = (np.sum(a_b <= a) + 1) / (n_boot + 1), (np.sum(a_b >= a) + 1) / (n_boot + 1)
        p_value = float(min(1.0, 2 * min(below, above)))
        out.append(Collapse(onto, float(free[4]), f_stat, p_value, dof, phi))
    return out
