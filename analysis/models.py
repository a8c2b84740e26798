"""Trend models of a tendency against scale, and their maximum-likelihood fits.

All models are functions of ``x`` = scale (parameters, timesteps or compute), evaluated
in ``log10(x)`` where that is the natural variable:

- ``logistic``: four-parameter logistic in log10(x) for rates,
  ``floor + (ceiling − floor) / (1 + exp(−slope · (log10 x − midpoint)))``, fitted by
  binomial maximum likelihood on the episode counts;
- ``log_linear``: ``a + b · log10(x)`` (a power law in the odds, for log-odds precursors);
- ``power_law``: ``a · x^b``;
- ``saturating_power_law``: ``c − a · x^(−b)`` (approaches ``c``);
- ``broken_power_law``: Caballero et al. (2022),
  ``a + b · x^(−c0) · Π_i (1 + (x / d_i)^(1 / f_i))^(−c_i · f_i)`` with one or two breaks;

the continuous ones by Gaussian maximum likelihood (least squares, with the noise scale
estimated). Every fit is multi-start — a coarse grid of starting points, all refined at
once by the batched Levenberg–Marquardt of :mod:`bestiary.analysis.batched` — so a fit does
not depend on one lucky initial guess. A model's curve takes ``theta`` of shape ``(P,)``
(giving ``(R,)``) or a batch ``(B, P)`` (giving ``(B, R)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from bestiary.analysis.batched import fit_binomial, fit_gaussian, gaussian_nll, numeric_jacobian
from bestiary.analysis.broken_starts import broken_starts

_EPS = 1e-9

Batched = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Model:
    """A trend model: parameter names, the curve (and its Jacobian), and how to start and bound a fit."""

    name: str
    params: tuple[str, ...]
    batched: Batched  # (theta (B, P), x (R,)) -> (B, R)
    starts: Callable[[np.ndarray, np.ndarray], list[np.ndarray]]  # (x, y) -> initial thetas
    bounds: Callable[[np.ndarray, np.ndarray], list[tuple[float | None, float | None]]]
    binomial: bool = False
    jacobian: Batched | None = None  # (theta (B, P), x (R,)) -> (B, R, P); finite differences if None
    #: Parameters whose bounds only keep the solver in a sane region (not constraints of the model):
    #: a fit that ends on one of them ran into a wall, and is refined again by the fallback solver.
    soft: tuple[int, ...] = ()

    def curve(self, theta: np.ndarray, x: np.ndarray | float) -> np.ndarray:
        """The curve at ``x`` for one parameter vector ``(P,)`` or a batch ``(B, P)``."""
        theta = np.asarray(theta, dtype=float)
        xs = np.atleast_1d(np.asarray(x, dtype=float))
        with np.errstate(all="ignore"):
            y = self.batched(np.atleast_2d(theta), xs)
        if theta.ndim == 1:
            y = y[0]
        return y if np.ndim(x) else y[..., 0]


def _col(theta: np.ndarray, i: int) -> np.ndarray:
    return theta[:, i : i + 1]


def _logistic(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    floor, ceiling, mid, slope = (_col(theta, i) for i in range(4))
    return floor + (ceiling - floor) * expit(slope * (np.log10(x) - mid))


def _logistic_jac(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    floor, ceiling, mid, slope = (_col(theta, i) for i in range(4))
    lx = np.log10(x)
    sig = expit(slope * (lx - mid))
    ds = (ceiling - floor) * sig * (1 - sig)
    return np.stack([1 - sig, sig, -slope * ds, (lx - mid) * ds], axis=-1)


def _logistic_starts(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    lx = np.log10(x)
    lo, hi = float(np.clip(np.min(y), 0, 1)), float(np.clip(np.max(y), 0, 1))
    mids = np.linspace(lx.min() - 0.5, lx.max() + 0.5, 7)
    return [np.array([lo, hi, m, s]) for m in mids for s in (1.0, 4.0, 12.0)]


def _logistic_bounds(x: np.ndarray, y: np.ndarray) -> list[tuple[float | None, float | None]]:
    lx = np.log10(x)
    return [(0.0, 1.0), (0.0, 1.0), (lx.min() - 3, lx.max() + 3), (0.05, 40.0)]


def _log_linear(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _col(theta, 0) + _col(theta, 1) * np.log10(x)


def _log_linear_jac(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    lx = np.broadcast_to(np.log10(x), (len(theta), len(x)))
    return np.stack([np.ones_like(lx), lx], axis=-1)


def _log_linear_starts(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    b, a = np.polyfit(np.log10(x), y, 1)
    return [np.array([a, b])]


def _power(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _col(theta, 0) * np.power(x, _col(theta, 1))


def _power_jac(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    xb = np.power(x, _col(theta, 1))
    return np.stack([xb, _col(theta, 0) * xb * np.log(x)], axis=-1)


def _sat_power(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _col(theta, 0) - _col(theta, 1) * np.power(x, -_col(theta, 2))


def _sat_power_jac(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    xb = np.power(x, -_col(theta, 2))
    return np.stack([np.ones_like(xb), -xb, _col(theta, 1) * xb * np.log(x)], axis=-1)


def _broken(nbreaks: int) -> Batched:
    def curve(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        a, b, c0 = _col(theta, 0), _col(theta, 1), _col(theta, 2)
        y = b * np.power(x, -c0)
        for i in range(nbreaks):
            c, logd, f = _col(theta, 3 + 3 * i), _col(theta, 4 + 3 * i), _col(theta, 5 + 3 * i)
            y = y * np.power(1 + np.power(x / 10.0**logd, 1 / f), -c * f)
        return a + y

    return curve


def _scale_starts(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    return float(np.mean(y)), float(np.ptp(y) or 1.0)


def _power_starts(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    m, _ = _scale_starts(x, y)
    return [np.array([m / np.median(x) ** b, b]) for b in (-1.0, -0.3, 0.1, 0.3, 1.0)]


def _sat_starts(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    top = float(np.max(y))
    span = float(np.ptp(y) or 1.0)
    return [
        np.array([top + span * s, span * np.min(x) ** b * k, b])
        for s in (0.05, 0.5)
        for b in (0.2, 0.5, 1.0)
        for k in (1.0, 3.0)
    ]


def _broken_bounds(nbreaks: int) -> Callable[[np.ndarray, np.ndarray], list[tuple[float | None, float | None]]]:
    def bounds(x: np.ndarray, y: np.ndarray) -> list[tuple[float | None, float | None]]:
        lx = np.log10(x)
        b: list[tuple[float | None, float | None]] = [(None, None), (None, None), (-3.0, 3.0)]
        for _ in range(nbreaks):
            b += [(-10.0, 10.0), (lx.min() - 1, lx.max() + 1), (0.01, 5.0)]
        return b

    return bounds


MODELS: dict[str, Model] = {
    "logistic": Model(
        "logistic",
        ("floor", "ceiling", "midpoint", "slope"),
        _logistic,
        _logistic_starts,
        _logistic_bounds,
        binomial=True,
        jacobian=_logistic_jac,
    ),
    "log_linear": Model(
        "log_linear",
        ("a", "b"),
        _log_linear,
        _log_linear_starts,
        lambda x, y: [(None, None), (None, None)],
        jacobian=_log_linear_jac,
    ),
    "power_law": Model(
        "power_law",
        ("a", "b"),
        _power,
        _power_starts,
        lambda x, y: [(None, None), (-5.0, 5.0)],
        jacobian=_power_jac,
    ),
    "saturating_power_law": Model(
        "saturating_power_law",
        ("c", "a", "b"),
        _sat_power,
        _sat_starts,
        lambda x, y: [(None, None), (None, None), (0.01, 5.0)],
        jacobian=_sat_power_jac,
    ),
    "broken_power_law": Model(
        "broken_power_law",
        ("a", "b", "c0", "c1", "log10_d1", "f1"),
        _broken(1),
        broken_starts(1),
        _broken_bounds(1),
        soft=(2, 3, 4, 5),
    ),
    "broken_power_law_2": Model(
        "broken_power_law_2",
        ("a", "b", "c0", "c1", "log10_d1", "f1", "c2", "log10_d2", "f2"),
        _broken(2),
        broken_starts(2),
        _broken_bounds(2),
        soft=(2, 3, 4, 5, 6, 7, 8),
    ),
}
CONTINUOUS_MODELS = ("log_linear", "power_law", "saturating_power_law", "broken_power_law", "broken_power_law_2")


def box(model: Model, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model's bounds on data ``(x, y)`` as arrays (infinite where unbounded)."""
    bounds = model.bounds(x, y)
    lo = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
    hi = np.array([b[1] if b[1] is not None else np.inf for b in bounds])
    return lo, hi


def neg_loglik(
    model: Model,
    theta: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    successes: np.ndarray | None,
    trials: np.ndarray | None,
) -> float:
    """Negative log-likelihood: binomial on counts for rate models, Gaussian (profiled σ) otherwise."""
    pred = model.curve(theta, x)
    if not np.all(np.isfinite(pred)):
        return 1e12
    return _nll_of(model, pred, y, successes, trials)


def _nll_of(
    model: Model, pred: np.ndarray, y: np.ndarray, successes: np.ndarray | None, trials: np.ndarray | None
) -> float:
    """The negative log-likelihood of a finite predicted curve ``(R,)``."""
    if model.binomial:
        assert successes is not None and trials is not None, "a rate model needs episode counts"
        p = np.clip(pred, _EPS, 1 - _EPS)
        return float(-np.sum(successes * np.log(p) + (trials - successes) * np.log1p(-p)))
    return float(gaussian_nll(np.asarray(np.sum((y - pred) ** 2)), len(y)))


def fit_batch(
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    starts: np.ndarray,
    weights: np.ndarray | None = None,
    successes: np.ndarray | None = None,
    trials: np.ndarray | None = None,
    bounds_data: tuple[np.ndarray, np.ndarray] | None = None,
    starts_of_one: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit a batch of weighted problems on the same data at once.

    Args:
        model: The trend model.
        x: Scale of each organism ``(n,)``.
        y: Value (continuous) or rate (binomial) of each organism ``(n,)``.
        starts: Starting parameters, ``(B, P)`` (one per problem) or ``(P,)`` (the same for all).
        weights: ``(B, n)`` organism weights per problem (bootstrap counts; zero leaves an organism
            out); unit weights for every start if None.
        successes: Episode counts with the behaviour ``(n,)`` (binomial models).
        trials: Episode counts ``(n,)`` (binomial models).
        bounds_data: The ``(x, y)`` the bounds are computed from (default: the data).
        starts_of_one: The problems are one problem from several starts (only the best matters).

    Returns:
        (theta ``(B, P)``, negative log-likelihood ``(B,)``).
    """
    w = np.ones((len(np.atleast_2d(starts)), len(x))) if weights is None else np.atleast_2d(weights).astype(float)
    b = len(w)
    theta0 = np.broadcast_to(np.atleast_2d(starts), (b, len(model.params))).copy()
    lo, hi = box(model, *(bounds_data or (x, y)))
    if model.binomial:
        assert successes is not None and trials is not None, "a rate model needs episode counts"
        # Counts aggregate per rung: the likelihood depends on x only through the rung.
        rungs, inverse = np.unique(x, return_inverse=True)
        agg = np.zeros((len(rungs), len(x)))
        agg[inverse, np.arange(len(x))] = 1.0
        k = (w * successes) @ agg.T
        n = (w * trials) @ agg.T
        return fit_binomial(model.batched, model.jacobian, rungs, k, n, theta0, lo, hi, starts_of_one)
    theta, rss = fit_gaussian(model.batched, model.jacobian, x, y, w, theta0, lo, hi, starts_of_one)
    return theta, gaussian_nll(rss, w.sum(axis=1))


def _at_bound(model: Model, theta: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    """Whether a parameter with a soft bound sits on it (to a relative 1e-6)."""
    i = list(model.soft)
    tol = 1e-6 * np.maximum(1.0, np.abs(theta[i]))
    return bool(np.any((theta[i] - lo[i] <= tol) | (hi[i] - theta[i] <= tol)))


def _objective_and_gradient(
    model: Model,
    theta: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    successes: np.ndarray | None,
    trials: np.ndarray | None,
) -> tuple[float, np.ndarray]:
    """Negative log-likelihood and its gradient (the Jacobian batched, one curve call for all directions)."""
    t = theta[None, :]
    pred = model.batched(t, x)[0]
    jac = model.jacobian(t, x)[0] if model.jacobian is not None else numeric_jacobian(model.batched, t, x)[0]
    if not (np.all(np.isfinite(pred)) and np.all(np.isfinite(jac))):
        return 1e12, np.zeros_like(theta)
    nll = _nll_of(model, pred, y, successes, trials)
    if model.binomial:
        assert successes is not None and trials is not None  # checked by _nll_of
        p = np.clip(pred, _EPS, 1 - _EPS)
        return nll, -((successes / p - (trials - successes) / (1 - p)) @ jac)
    r = pred - y
    return nll, len(y) / max(float(r @ r), 1e-12 * len(y)) * (r @ jac)


def _polish(
    model: Model,
    starts: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    successes: np.ndarray | None,
    trials: np.ndarray | None,
) -> tuple[np.ndarray, float]:
    """The best of scipy's bounded quasi-Newton (L-BFGS-B) runs from ``starts``: the fallback solver."""
    from scipy.optimize import minimize

    bounds = model.bounds(x, y)
    best, best_nll = starts[0], math.inf
    for start in starts:
        with np.errstate(all="ignore"):
            res = minimize(
                lambda t: _objective_and_gradient(model, t, x, y, successes, trials),
                start,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 300},
            )
        if np.isfinite(res.fun) and res.fun < best_nll:
            best, best_nll = np.asarray(res.x, float), float(res.fun)
    return best, best_nll


def fit_model(
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    successes: np.ndarray | None = None,
    trials: np.ndarray | None = None,
    starts: list[np.ndarray] | None = None,
    keep: int = 4,
) -> tuple[np.ndarray, float]:
    """Maximum-likelihood parameters: evaluate every start, refine the best ``keep`` at once, keep the best.

    Models with soft bounds refine three times as many starts; when the batched solver's best fit
    still ends on a soft bound (a sign that it ran into a wall rather than a minimum), scipy's
    bounded L-BFGS-B is run from that fit and from the two best starts, and the better fit kept.

    Returns:
        (theta, negative log-likelihood).
    """
    candidates = np.array([np.asarray(t, float) for t in (starts or model.starts(x, y))])
    lo, hi = box(model, x, y)
    candidates = np.clip(candidates, lo, hi)
    first = np.array([neg_loglik(model, c, x, y, successes, trials) for c in candidates])
    ranked = candidates[np.argsort(first, kind="stable")]
    # Models with soft bounds have many local optima (where the breaks sit): refine more starts.
    refined = ranked[: 3 * keep if model.soft else keep]
    weights = np.ones((len(refined), len(x)))
    theta, nll = fit_batch(model, x, y, refined, weights, successes, trials, starts_of_one=True)
    nll = np.where(np.isfinite(nll), nll, np.inf)
    best = int(np.argmin(nll))
    theta_best, nll_best = theta[best], float(nll[best])
    if model.soft and _at_bound(model, theta_best, lo, hi):
        polished, polished_nll = _polish(model, np.vstack([theta_best, ranked[:2]]), x, y, successes, trials)
        if polished_nll < nll_best:
            theta_best, nll_best = polished, polished_nll
    return theta_best, nll_best
