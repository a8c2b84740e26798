"""Many maximum-likelihood fits at once: a vectorized Levenberg–Marquardt for trend models.

A bootstrap resamples organisms, and with counts aggregated per rung each draw is the same
small problem with other weights; a backtest is the same problem with later rungs given
weight zero; a multi-start fit is the same problem from other starting points. So every
fit the analysis makes is a *batch* of ``B`` problems of ``P`` parameters, solved here
together in numpy: each iteration computes every problem's gradient and (Fisher)
information matrix from analytic Jacobians where the model has one (finite differences,
also batched, where it has not), solves ``B`` damped ``P × P`` systems at once, and keeps
each problem's step only if it lowers that problem's objective (Levenberg–Marquardt:
the damping grows after a rejected step and shrinks after an accepted one). Bounds are
kept by projecting each step onto the box.

Objectives:

- binomial (rates with episode counts): ``−Σ k log p + (n − k) log(1 − p)``, with the
  expected (Fisher) information ``Jᵀ diag(n / p(1 − p)) J``;
- Gaussian (continuous metrics): the weighted residual sum of squares ``Σ w (f − y)²``
  (its maximum-likelihood fit, the noise scale profiled out), information ``Jᵀ W J``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_EPS = 1e-9
#: Every WINDOW iterations a problem whose objective improved by less than WINDOW_TOL (relative) stops.
WINDOW = 10
WINDOW_TOL = 1e-6
#: Curve: (theta (B, P), x (R,)) → (B, R). Jacobian: (theta, x) → (B, R, P).
CurveFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
JacFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: (theta (b, P), rows of the batch (b,), with derivatives?) → (objective, gradient, information).
Evaluate = Callable[[np.ndarray, np.ndarray, bool], tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]


def _finite(a: np.ndarray) -> np.ndarray:
    """``a`` with non-finite entries set to zero (copied only when there are any)."""
    ok = np.isfinite(a)
    return a if ok.all() else np.where(ok, a, 0.0)


def numeric_jacobian(curve: CurveFn, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Forward-difference Jacobian of a batched curve, ``(B, R, P)``, in one curve call."""
    b, p = theta.shape
    h = 1e-6 * np.maximum(1.0, np.abs(theta))
    shifted = np.repeat(theta[:, None, :], p + 1, axis=1)
    shifted[:, 1:, :] += np.eye(p)[None] * h[:, None, :]
    y = curve(shifted.reshape(b * (p + 1), p), x).reshape(b, p + 1, -1)
    return np.transpose((y[:, 1:, :] - y[:, :1, :]) / h[:, :, None], (0, 2, 1))


def _binomial(curve: CurveFn, jac: JacFn | None, x: np.ndarray, k_all: np.ndarray, n_all: np.ndarray) -> Evaluate:
    def evaluate(
        theta: np.ndarray, rows: np.ndarray, derivatives: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        k, n = k_all[rows], n_all[rows]
        p = curve(theta, x)
        finite = np.isfinite(p)
        bad = ~finite.all(axis=1)
        if bad.any():
            p = np.where(finite, p, 0.5)
        pc = np.clip(p, _EPS, 1 - _EPS)
        nll = -np.sum(k * np.log(pc) + (n - k) * np.log1p(-pc), axis=1)
        nll[bad] = np.inf
        if not derivatives:
            return nll, None, None
        j = _finite(jac(theta, x) if jac is not None else numeric_jacobian(curve, theta, x))
        inside = (p > _EPS) & (p < 1 - _EPS)
        dp = -(k / pc - (n - k) / (1 - pc)) * inside
        grad = np.einsum("br,brp->bp", dp, j)
        info = np.einsum("br,brp,brq->bpq", n / (pc * (1 - pc)) * inside, j, j)
        return nll, grad, info

    return evaluate


def _gaussian(curve: CurveFn, jac: JacFn | None, x: np.ndarray, y: np.ndarray, w_all: np.ndarray) -> Evaluate:
    def evaluate(
        theta: np.ndarray, rows: np.ndarray, derivatives: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        w = w_all[rows]
        r = curve(theta, x) - y
        finite = np.isfinite(r)
        bad = ~finite.all(axis=1)
        if bad.any():
            r = np.where(finite, r, 0.0)
        rss = np.sum(w * r * r, axis=1)
        rss[bad] = np.inf
        if not derivatives:
            return rss, None, None
        j = _finite(jac(theta, x) if jac is not None else numeric_jacobian(curve, theta, x))
        grad = 2 * np.einsum("br,brp->bp", w * r, j)
        info = 2 * np.einsum("br,brp,brq->bpq", w, j, j)
        return rss, grad, info

    return evaluate


def levenberg_marquardt(
    evaluate: Evaluate,
    theta0: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    iterations: int = 200,
    tol: float = 1e-9,
    starts_of_one: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimize a batch of objectives from ``theta0`` (``(B, P)``) within ``[lo, hi]``.

    ``starts_of_one``: the batch is one problem from several starts (only the best matters).

    Returns:
        (theta ``(B, P)``, objective ``(B,)``).
    """
    theta = np.clip(np.array(theta0, dtype=float), lo, hi)
    b, p = theta.shape
    obj, grad, info = evaluate(theta, np.arange(b), True)
    assert grad is not None and info is not None
    lam = np.full(b, 1e-3)
    active = np.isfinite(obj)
    eye = np.eye(p)
    reference = obj.copy()
    running = np.zeros((b, p))
    for it in range(iterations):
        if it and it % WINDOW == 0:
            # A problem whose objective barely moved over the last window is done: degenerate
            # directions (a saturating law fitted to a straight line) otherwise creep forever.
            # A point fit (starts of one problem) is refined further than a bootstrap draw.
            stalled = reference - obj <= (WINDOW_TOL / 100 if starts_of_one else WINDOW_TOL) * (1 + np.abs(obj))
            if starts_of_one:
                # Starts of one problem: one far behind the best is not worth refining further.
                stalled |= obj > np.min(obj) + 1e-3 * (1 + np.abs(np.min(obj)))
            active &= ~stalled
            reference = obj.copy()
        if not active.any():
            break
        idx = np.flatnonzero(active)
        g = grad[idx]
        # Parameters held at a bound by a gradient pointing out of the box are fixed for this step
        # (an active set), so the step is spent on the free ones instead of being clipped away.
        held = ((theta[idx] <= lo) & (g > 0)) | ((theta[idx] >= hi) & (g < 0))
        free = (~held).astype(float)
        diag = np.einsum("bii->bi", info[idx])
        running[idx] = np.maximum(running[idx], diag)  # Moré's scaling: the largest curvature seen
        scale = np.where(running[idx] > 0, running[idx], 1.0)
        system = info[idx] * free[:, :, None] * free[:, None, :]
        system += lam[idx, None, None] * (eye * scale[:, None, :]) + eye * held[:, None, :]
        system += eye * 1e-12 * (1 + scale.max(axis=1))[:, None, None]
        try:
            step = -np.linalg.solve(system, (g * free)[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -g * free / (scale * (1 + lam[idx, None]))
        step = _finite(step)
        trial = np.clip(theta[idx] + step, lo, hi)
        moved = np.abs(trial - theta[idx]).max(axis=1)
        new_obj, _, _ = evaluate(trial, idx, False)
        better = new_obj < obj[idx]
        gain = np.where(better, obj[idx] - new_obj, 0.0)
        accept = idx[better]
        if len(accept):
            theta[accept] = trial[better]
            o, g_new, h_new = evaluate(theta[accept], accept, True)
            assert g_new is not None and h_new is not None
            obj[accept], grad[accept], info[accept] = o, g_new, h_new
        small = better & (gain <= tol * (1 + np.abs(obj[idx])))
        lam[idx] = np.where(better, np.maximum(lam[idx] / 3, 1e-12), lam[idx] * 4)
        done = small | (~better & (lam[idx] > 1e10)) | (moved == 0)
        active[idx[done]] = False
    return theta, obj


def fit_binomial(
    curve: CurveFn,
    jac: JacFn | None,
    x: np.ndarray,
    k: np.ndarray,
    n: np.ndarray,
    theta0: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    starts_of_one: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Binomial maximum likelihood of a batch: counts ``k``, ``n`` of shape ``(B, R)`` at ``x`` ``(R,)``.

    Returns:
        (theta ``(B, P)``, negative log-likelihood ``(B,)``).
    """
    with np.errstate(all="ignore"):
        return levenberg_marquardt(_binomial(curve, jac, x, k, n), theta0, lo, hi, starts_of_one=starts_of_one)


def fit_gaussian(
    curve: CurveFn,
    jac: JacFn | None,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    theta0: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    starts_of_one: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of a batch: values ``y`` ``(n,)`` at ``x`` ``(n,)``, weights ``w`` ``(B, n)``.

    Returns:
        (theta ``(B, P)``, weighted residual sum of squares ``(B,)``).
    """
    with np.errstate(all="ignore"):
        return levenberg_marquardt(_gaussian(curve, jac, x, y, w), theta0, lo, hi, starts_of_one=starts_of_one)


def gaussian_nll(rss: np.ndarray, n: float | np.ndarray) -> np.ndarray:
    """Gaussian negative log-likelihood with the noise scale profiled out: ``n/2 (log 2π σ̂² + 1)``."""
    sigma2 = np.maximum(np.asarray(rss, float) / n, 1e-12)
    return 0.5 * n * (np.log(2 * np.pi * sigma2) + 1)
