"""Trend models of a tendency against scale, and their maximum-likelihood fits (scipy).

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
estimated). Every fit is multi-start (a coarse grid of starting points, then L-BFGS-B
from the best few), so a fit does not depend on one lucky initial guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares, minimize
from scipy.special import expit

_EPS = 1e-9


@dataclass(frozen=True)
class Model:
    """A trend model: parameter names, the curve, and how to start and bound a fit."""

    name: str
    params: tuple[str, ...]
    curve: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (theta, x) -> y
    starts: Callable[[np.ndarray, np.ndarray], list[np.ndarray]]  # (x, y) -> initial thetas
    bounds: Callable[[np.ndarray, np.ndarray], list[tuple[float | None, float | None]]]
    binomial: bool = False


def _logistic(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    floor, ceiling, mid, slope = theta
    return floor + (ceiling - floor) * expit(slope * (np.log10(x) - mid))


def _logistic_starts(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    lx = np.log10(x)
    lo, hi = float(np.clip(np.min(y), 0, 1)), float(np.clip(np.max(y), 0, 1))
    mids = np.linspace(lx.min() - 0.5, lx.max() + 0.5, 7)
    return [np.array([lo, hi, m, s]) for m in mids for s in (1.0, 4.0, 12.0)]


def _logistic_bounds(x: np.ndarray, y: np.ndarray) -> list[tuple[float | None, float | None]]:
    lx = np.log10(x)
    return [(0.0, 1.0), (0.0, 1.0), (lx.min() - 3, lx.max() + 3), (0.05, 40.0)]


def _log_linear(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    a, b = theta
    return a + b * np.log10(x)


def _log_linear_starts(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    b, a = np.polyfit(np.log10(x), y, 1)
    return [np.array([a, b])]


def _power(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    a, b = theta
    return a * np.power(x, b)


def _sat_power(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    c, a, b = theta
    return c - a * np.power(x, -b)


def _broken(nbreaks: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def curve(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        a, b, c0 = theta[:3]
        y = b * np.power(x, -c0)
        for i in range(nbreaks):
            c, logd, f = theta[3 + 3 * i : 6 + 3 * i]
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


def _broken_starts(nbreaks: int) -> Callable[[np.ndarray, np.ndarray], list[np.ndarray]]:
    def starts(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        lx = np.log10(x)
        _, span = _scale_starts(x, y)
        out = []
        breaks = np.linspace(lx.min() + 0.3, lx.max() - 0.3, 3)
        for d in breaks:
            for c in (-1.0, -0.3, 0.3, 1.0):
                for f in (0.3,):
                    theta = [float(np.min(y)), span * 0.1, 0.0, c, d, f]
                    if nbreaks == 2:
                        theta += [-c, d + 0.5, f]
                    out.append(np.array(theta))
        return out

    return starts


def _broken_bounds(nbreaks: int) -> Callable[[np.ndarray, np.ndarray], list[tuple[float | None, float | None]]]:
    def bounds(x: np.ndarray, y: np.ndarray) -> list[tuple[float | None, float | None]]:
        lx = np.log10(x)
        b = [(None, None), (None, None), (-3.0, 3.0)]
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
    ),
    "log_linear": Model(
        "log_linear", ("a", "b"), _log_linear, _log_linear_starts, lambda x, y: [(None, None), (None, None)]
    ),
    "power_law": Model("power_law", ("a", "b"), _power, _power_starts, lambda x, y: [(None, None), (-5.0, 5.0)]),
    "saturating_power_law": Model(
        "saturating_power_law",
        ("c", "a", "b"),
        _sat_power,
        _sat_starts,
        lambda x, y: [(None, None), (None, None), (0.01, 5.0)],
    ),
    "broken_power_law": Model(
        "broken_power_law", ("a", "b", "c0", "c1", "log10_d1", "f1"), _broken(1), _broken_starts(1), _broken_bounds(1)
    ),
    "broken_power_law_2": Model(
        "broken_power_law_2",
        ("a", "b", "c0", "c1", "log10_d1", "f1", "c2", "log10_d2", "f2"),
        _broken(2),
        _broken_starts(2),
        _broken_bounds(2),
    ),
}
CONTINUOUS_MODELS = ("log_linear", "power_law", "saturating_power_law", "broken_power_law", "broken_power_law_2")


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
    if model.binomial:
        assert successes is not None and trials is not None, "a rate model needs episode counts"
        p = np.clip(pred, _EPS, 1 - _EPS)
        return float(-np.sum(successes * np.log(p) + (trials - successes) * np.log1p(-p)))
    rss = float(np.sum((y - pred) ** 2))
    n = len(y)
    sigma2 = max(rss / n, 1e-12)
    return 0.5 * n * (np.log(2 * np.pi * sigma2) + 1)


def _logistic_nll_grad(theta: np.ndarray, x: np.ndarray, k: np.ndarray, n: np.ndarray) -> tuple[float, np.ndarray]:
    """Binomial negative log-likelihood of the logistic and its analytic gradient."""
    floor, ceiling, mid, slope = theta
    lx = np.log10(x)
    sig = expit(slope * (lx - mid))
    p = floor + (ceiling - floor) * sig
    pc = np.clip(p, _EPS, 1 - _EPS)
    nll = -float(np.sum(k * np.log(pc) + (n - k) * np.log1p(-pc)))
    dp = -(k / pc - (n - k) / (1 - pc)) * ((p > _EPS) & (p < 1 - _EPS))
    ds = (ceiling - floor) * sig * (1 - sig)
    grad = np.array([np.sum(dp * (1 - sig)), np.sum(dp * sig), np.sum(dp * ds * -slope), np.sum(dp * ds * (lx - mid))])
    return nll, grad


def fit_model(
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    successes: np.ndarray | None = None,
    trials: np.ndarray | None = None,
    starts: list[np.ndarray] | None = None,
    keep: int = 4,
) -> tuple[np.ndarray, float]:
    """Maximum-likelihood parameters: evaluate every start, then refine the best ``keep``.

    Binomial models use L-BFGS-B (with the analytic gradient for the logistic); Gaussian
    ones are least-squares problems, solved by trust-region reflective least squares.

    Returns:
        (theta, negative log-likelihood).
    """
    bounds = model.bounds(x, y)
    lo = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
    hi = np.array([b[1] if b[1] is not None else np.inf for b in bounds])

    def objective(theta: np.ndarray) -> float:
        return neg_loglik(model, theta, x, y, successes, trials)

    candidates = [np.clip(np.asarray(t, float), lo, hi) for t in (starts or model.starts(x, y))]
    if len(candidates) > keep:
        candidates = sorted(candidates, key=objective)[:keep]
    best_theta, best = candidates[0], objective(candidates[0])
    for start in candidates:
        with np.errstate(all="ignore"):
            if model.name == "logistic":
                res = minimize(
                    _logistic_nll_grad, start, args=(x, successes, trials), jac=True, method="L-BFGS-B", bounds=bounds
                )
                theta = res.x
            elif model.binomial:
                theta = minimize(objective, start, method="L-BFGS-B", bounds=bounds).x
            else:
                inner = np.clip(start, np.nextafter(lo, hi), np.nextafter(hi, lo))
                theta = least_squares(
                    lambda t: np.nan_to_num(model.curve(t, x) - y, nan=1e6, posinf=1e6, neginf=-1e6),
                    inner,
                    bounds=(lo, hi),
                    method="trf",
                    max_nfev=100 * len(start),
                ).x
        value = objective(theta)
        if value < best:
            best_theta, best = theta, value
    return np.asarray(best_theta, dtype=float), float(best)
