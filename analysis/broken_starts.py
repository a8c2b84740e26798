"""Where fits of a broken power law start (Caballero et al. 2022), so that a sharp break is reachable.

``y = a + b · x^(−c0) · Π_i (1 + (x / d_i)^(1 / f_i))^(−c_i · f_i)`` is linear in ``a`` and ``b``: for
every point of a grid of the other parameters, ``a`` and ``b`` are solved by least squares
(variable projection), and the best few points start the Levenberg–Marquardt of
:mod:`~bestiary.analysis.models`. Evenly spread starts that ignored the data's own scale ended
on the bounds of a real curve (4-digit addition: c1 = 10, f1 = 0.01, extrapolated RMSLE 1.05
against the published 0.011).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Grids of the nonlinear parameters of a broken power law from which fits start: every
#: combination is scored with ``a`` and ``b`` solved exactly (they enter linearly), and the best
#: few start the Levenberg–Marquardt. A break as sharp as a real task's (Caballero et al.'s
#: 4-digit addition: c1 ≈ 5.7, f1 ≈ 0.06) must be reachable from one of them.
_BREAK_C0 = (-0.5, 0.0, 0.5)
_BREAK_C = (-6.0, -2.0, -0.5, 0.5, 2.0, 6.0)
_BREAK_F = (0.05, 0.3, 1.0)
_BREAK_STARTS = 24


def _broken_basis(theta_nl: np.ndarray, x: np.ndarray, nbreaks: int) -> np.ndarray:
    """``x^(−c0) Π (1 + (x/d_i)^(1/f_i))^(−c_i f_i)`` for rows ``(c0, c1, log d1, f1, ...)`` → ``(B, R)``."""
    g = np.power(x[None, :], -theta_nl[:, :1])
    for i in range(nbreaks):
        c, logd, f = (theta_nl[:, 1 + 3 * i + j, None] for j in range(3))
        g = g * np.power(1 + np.power(x[None, :] / 10.0**logd, 1 / f), -c * f)
    return g


def broken_starts(nbreaks: int) -> Callable[[np.ndarray, np.ndarray], list[np.ndarray]]:
    """The starts of a broken power law with ``nbreaks`` breaks: the best grid points, ``a`` and ``b`` solved."""

    def starts(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        lx = np.log10(x)
        ds = np.linspace(lx.min(), lx.max(), 7 if nbreaks == 1 else 5)
        rows = []
        for c0 in _BREAK_C0:
            for f in _BREAK_F if nbreaks == 1 else _BREAK_F[:2]:
                if nbreaks == 1:
                    rows += [[c0, c, d, f] for c in _BREAK_C for d in ds]
                else:
                    rows += [
                        [c0, c1, d1, f, c2, d2, f]
                        for i, d1 in enumerate(ds)
                        for d2 in ds[i + 1 :]
                        for c1 in _BREAK_C[1:-1]
                        for c2 in _BREAK_C[1:-1]
                    ]
        nl = np.array(rows, float)
        with np.errstate(all="ignore"):
            g = _broken_basis(nl, x, nbreaks)
        # a and b by least squares for every row at once: y ≈ a + b g (variable projection).
        gm, ym = g.mean(axis=1, keepdims=True), float(np.mean(y))
        gc = g - gm
        with np.errstate(all="ignore"):
            b = (gc @ (y - ym)) / np.sum(gc * gc, axis=1)
            a = ym - b * gm[:, 0]
            rss = np.sum((a[:, None] + b[:, None] * g - y) ** 2, axis=1)
        ok = np.isfinite(rss) & np.isfinite(a) & np.isfinite(b)
        order = np.flatnonzero(ok)[np.argsort(rss[ok], kind="stable")][:_BREAK_STARTS]
        return [np.concatenate([[a[i], b[i]], nl[i]]) for i in order] or [
            np.array([float(np.min(y)), 1.0, 0.0] + [0.3, float(np.median(lx)), 0.3] * nbreaks)
        ]

    return starts
