"""Emergence per organism: each organism has turned or not, and the chance that it has grows with scale.

Organisms of one rung do not share one violation rate: some seeds find the cue within
their budget and defect almost always, others never do (the first study's log-odds gaps
at one rung: 1.1 / 1.2 / 9.1 / 8.3 / 4.5). Averaging them makes a curve whose steepness
says how the *share* of turned organisms grows, blurred by how many seeds were drawn.
This module models that share directly:

- each organism ``i`` has a scale ``x_i`` and an empirical log-odds of the behaviour
  ``y_i = logit((k_i + ½) / (n_i + 1))`` from its episode counts;
- it has turned (``z_i = 1``) with probability ``π(x) = σ(s · (log10 x − m))``;
- given ``z``, ``y_i ~ N(μ_z, σ_z²)`` (``μ_1 > μ_0``; ``σ_z ≥ 0.25``);

fitted by expectation–maximisation (the M-step of ``π`` is a weighted logistic regression
solved by Newton's method with Firth's bias correction, ``s`` kept in ``[0.05, 40]`` as for
the logistic trend). The
**emergence scale** is ``m`` (half of the organisms have turned), the **sharpness** the
decades from π = 0.1 to 0.9, ``2 ln 9 / s``; their intervals are profile-likelihood
intervals (at :data:`LEVEL`; they stay open towards an infinitely steep rise when the
transition falls between two rungs, which a bootstrap cannot show), and the sharpness's
**robustness** comes from refitting with each seed left out: "sudden" (sharper than a decade)
is claimed only when it holds in the fit and in every leave-one-seed-out refit.

When the high component's typical rate stays below the danger level, or a single
component describes the organisms better (BIC), no organism is said to have turned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from bestiary.analysis.trends import InsufficientDataError

if TYPE_CHECKING:
    from bestiary.analysis.trends import Emergence

SIGMA_MIN = 0.25
#: Level of the reported intervals. Checked on synthetic populations (tests/analysis/test_mixture.py):
#: at 8 rungs × 10 seeds nominal 90 % intervals of a logistic's slope cover the truth in only about
#: 83 % of draws, 95 % ones in about 92 %, so the report gives 95 %.
LEVEL = 0.95
SLOPE_BOUNDS = (0.05, 40.0)
ITERATIONS = 200
LN9x2 = 2 * math.log(9)


@dataclass
class MixtureFit:
    """A per-organism emergence model of one behaviour.

    Attributes:
        x: Organisms' scales.
        y: Their empirical log-odds.
        seeds: Their seeds (for leave-one-seed-out).
        theta: ``(m, s, μ0, σ0, μ1, σ1)``.
        turned: Each organism's posterior probability of having turned.
        midpoint_interval: Profile-likelihood interval of the midpoint (log10 scale).
        slope_interval: Profile-likelihood interval of the slope.
        loso: theta refitted with each seed left out, by seed.
        two_components: Whether two components describe the organisms better than one (BIC).
        turned_rate: The typical rate of a turned organism, ``σ(μ1)``.
        notes: Caveats.
    """

    x: np.ndarray
    y: np.ndarray
    seeds: np.ndarray
    theta: np.ndarray
    turned: np.ndarray
    midpoint_interval: tuple[float, float]
    slope_interval: tuple[float, float]
    loso: dict[int, np.ndarray]
    two_components: bool
    turned_rate: float
    notes: list[str] = field(default_factory=list)

    @property
    def midpoint(self) -> float:
        """log10 of the scale at which half of the organisms have turned."""
        return float(self.theta[0])

    @property
    def sharpness(self) -> float:
        """Decades of scale from 10 % to 90 % of organisms turned."""
        return LN9x2 / float(self.theta[1])

    def share(self, x: np.ndarray | float) -> np.ndarray:
        """The fitted share of turned organisms at scale ``x``."""
        return expit(self.theta[1] * (np.log10(np.asarray(x, float)) - self.theta[0]))

    def interval(self, which: str) -> tuple[float, float]:
        """The interval (at :data:`LEVEL`) of ``midpoint`` or ``sharpness``."""
        if which == "midpoint":
            return self.midpoint_interval
        lo, hi = self.slope_interval
        return (LN9x2 / hi if hi > 0 else math.nan, LN9x2 / lo if lo > 0 else math.nan)

    @property
    def loso_sharpness(self) -> tuple[float, float]:
        """The range of the sharpness over the leave-one-seed-out refits."""
        if not self.loso:
            return (math.nan, math.nan)
        v = [LN9x2 / t[1] for t in self.loso.values()]
        return float(min(v)), float(max(v))

    @property
    def emerged(self) -> bool:
        """Organisms turned within the data: two components, a turned rate above the level, π crossing ½ in range."""
        lx = np.log10(self.x)
        return self.two_components and lx.min() <= self.midpoint <= lx.max()

    @property
    def sudden(self) -> bool:
        """Sharper than one decade across the whole interval of the sharpness, and in every leave-one-seed-out refit.

        The point estimate alone is not enough: a population whose organisms turn over about a
        decade is called sudden by half of its draws from noise; the verdict must survive the
        uncertainty (the interval's broad end under one decade).
        """
        lo_hi = self.loso_sharpness
        broad = self.interval("sharpness")[1]
        confident = math.isfinite(broad) and broad < 1
        return bool(self.emerged and self.sharpness < 1 and confident and (not self.loso or lo_hi[1] < 1))


def log_odds(successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Empirical log-odds with a ½ continuity correction."""
    return logit((np.asarray(successes, float) + 0.5) / (np.asarray(trials, float) + 1.0))


def _normal_logpdf(y: np.ndarray, mu: np.ndarray | float, sd: np.ndarray | float) -> np.ndarray:
    return -0.5 * ((y - mu) / sd) ** 2 - np.log(sd) - 0.5 * math.log(2 * math.pi)


def _pi_firth(lx: np.ndarray, r: np.ndarray, w: np.ndarray, m: np.ndarray, s: np.ndarray) -> tuple:
    """π(x) = σ(b0 + b1 lx) by Newton with Firth's correction (the Jeffreys prior).

    The correction removes the small-sample bias that makes a logistic's slope too steep —
    too sudden — and keeps it finite when the organisms are separated.
    """
    b0, b1 = -s * m, s
    for _ in range(3):
        p = expit(b0 + b1 * lx)
        v = w * p * (1 - p)
        i00, i01, i11 = v.sum(1), (v * lx).sum(1), (v * lx * lx).sum(1)
        det = i00 * i11 - i01 * i01 + 1e-12
        lev = v * (i11[:, None] - 2 * i01[:, None] * lx + i00[:, None] * lx * lx) / det[:, None]
        u = w * (r - p) + lev * (0.5 - p)
        u0, u1 = u.sum(1), (u * lx).sum(1)
        step0 = (i11 * u0 - i01 * u1) / det
        step1 = (i00 * u1 - i01 * u0) / det
        # Damped: the midpoint moves at most half a decade and the slope at most ×2 per step.
        s_new = np.clip(b1 + step1[:, None], b1 / 2, b1 * 2).clip(*SLOPE_BOUNDS)
        raw = b1 + step1[:, None]
        m_new = -(b0 + step0[:, None]) / np.where(raw > 0, raw, b1)
        m_old = -b0 / b1
        m_new = np.clip(np.nan_to_num(m_new, nan=0.0), m_old - 0.5, m_old + 0.5)
        b0, b1 = -s_new * m_new, s_new
    return -b0 / b1, b1


def _pi_profile(lx: np.ndarray, r: np.ndarray, w: np.ndarray, m: np.ndarray, s: np.ndarray, fixed: int) -> tuple:
    """Maximum likelihood of π with the midpoint (``fixed`` = 0) or the slope (1) held."""
    for _ in range(3):
        p = expit(s * (lx - m))
        resid, curv = w * (r - p), w * p * (1 - p)
        if fixed == 1:
            g, h = (-s * resid).sum(1, keepdims=True), (s * s * curv).sum(1, keepdims=True) + 1e-12
            m = m + np.clip(g / h, -0.5, 0.5)
        else:
            d = lx - m
            g, h = (d * resid).sum(1, keepdims=True), (d * d * curv).sum(1, keepdims=True) + 1e-12
            s = np.clip(np.clip(s + g / h, s / 2, s * 2), *SLOPE_BOUNDS)
    return m, s


def em(
    lx: np.ndarray, y: np.ndarray, w: np.ndarray, theta0: np.ndarray, fixed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Expectation–maximisation of a batch of weighted problems on the same organisms.

    Args:
        lx: log10 scale per organism ``(n,)``.
        y: Log-odds per organism ``(n,)``.
        w: Organism weights ``(B, n)`` (bootstrap counts; 0 leaves an organism out).
        theta0: Starting ``(m, s, μ0, σ0, μ1, σ1)``, ``(B, 6)`` or ``(6,)``.
        fixed: Hold the midpoint (0) or the slope (1) at its starting value and maximise the
            plain likelihood over the rest (a profile); None fits everything, π with Firth's correction.

    Returns:
        (theta ``(B, 6)``, log-likelihood ``(B,)``).
    """
    b = len(w)
    th = np.broadcast_to(np.atleast_2d(theta0), (b, 6)).astype(float).copy()
    ll_old = np.full(b, -np.inf)
    ll = ll_old
    for _ in range(ITERATIONS):
        m, s, mu0, sd0, mu1, sd1 = (th[:, i : i + 1] for i in range(6))
        z = s * (lx - m)
        log_pi1, log_pi0 = -np.logaddexp(0, -z), -np.logaddexp(0, z)
        a1 = log_pi1 + _normal_logpdf(y, mu1, sd1)
        a0 = log_pi0 + _normal_logpdf(y, mu0, sd0)
        norm = np.logaddexp(a0, a1)
        r = np.exp(a1 - norm)
        ll = np.sum(w * norm, axis=1)
        # M-step: the two components' means and spreads, then π.
        w1, w0 = w * r, w * (1 - r)
        n1, n0 = w1.sum(1, keepdims=True) + 1e-12, w0.sum(1, keepdims=True) + 1e-12
        mu1 = (w1 * y).sum(1, keepdims=True) / n1
        mu0 = (w0 * y).sum(1, keepdims=True) / n0
        sd1 = np.maximum(np.sqrt((w1 * (y - mu1) ** 2).sum(1, keepdims=True) / n1), SIGMA_MIN)
        sd0 = np.maximum(np.sqrt((w0 * (y - mu0) ** 2).sum(1, keepdims=True) / n0), SIGMA_MIN)
        m, s = _pi_firth(lx, r, w, m, s) if fixed is None else _pi_profile(lx, r, w, m, s, fixed)
        th = np.concatenate([m, s, mu0, sd0, mu1, sd1], axis=1)
        if np.all(np.abs(ll - ll_old) <= 1e-8 * (1 + np.abs(ll))):
            break
        ll_old = ll
    return th, ll


#: Grid of the profile likelihood over the slope (log-spaced over its bounds) and the midpoint (±3 decades).
SLOPE_GRID = np.geomspace(*SLOPE_BOUNDS, 60)


def profile_interval(
    lx: np.ndarray, y: np.ndarray, theta: np.ndarray, which: int, level: float = LEVEL
) -> tuple[float, float]:
    """Profile-likelihood interval of the midpoint (``which`` = 0) or the slope (1).

    The set of values whose profile log-likelihood lies within ``χ²₁(level) / 2`` of the
    best: unlike a bootstrap, it stays open towards an infinitely steep slope when the
    organisms' transition falls between two rungs, as it should.
    """
    from scipy.stats import chi2

    grid = SLOPE_GRID if which == 1 else np.linspace(lx.min() - 3, lx.max() + 3, 121)
    grid = np.unique(np.append(grid, theta[which]))  # the estimate itself, so a sharp peak is not stepped over
    starts = np.repeat(theta[None], len(grid), axis=0)
    starts[:, which] = grid
    _, ll = em(lx, y, np.ones((len(grid), len(y))), starts, fixed=which)
    # Only profile values compare with each other (with a parameter held, the penalty of Firth's correction
    # is another one); the estimate is on the grid, so the profile's best is at least the fit's.
    best = float(np.nanmax(ll))
    inside = ll >= best - chi2.ppf(level, 1) / 2
    if not inside.any():
        return (math.nan, math.nan)
    v = np.log(grid) if which == 1 else grid
    lo_i, hi_i = int(np.argmax(inside)), len(inside) - 1 - int(np.argmax(inside[::-1]))
    lo, hi = v[lo_i], v[hi_i]
    return (float(np.exp(lo)), float(np.exp(hi))) if which == 1 else (float(lo), float(hi))


def _smooth_loglik(lx: np.ndarray, y: np.ndarray) -> float:
    """Log-likelihood of the organisms' log-odds as a normal about one logistic in log10 scale (best of starts)."""
    from scipy.optimize import least_squares

    def resid(p: np.ndarray) -> np.ndarray:
        return y - (p[0] + (p[1] - p[0]) * expit(p[3] * (lx - p[2])))

    best = math.inf
    for mid in np.unique(lx):
        p0 = np.array([y.min(), y.max(), mid, 4.0])
        bounds = ([-40, -40, lx.min() - 3, 0.05], [40, 40, lx.max() + 3, 40])
        r = least_squares(resid, np.clip(p0, bounds[0], bounds[1]), bounds=bounds)
        best = min(best, float(np.sum(r.fun**2)))
    sd = max(math.sqrt(best / len(y)), SIGMA_MIN)  # the same floor as the mixture's components
    return -0.5 * len(y) * math.log(2 * math.pi * sd**2) - best / (2 * sd**2)


def _start(lx: np.ndarray, y: np.ndarray) -> np.ndarray:
    cut = (y.min() + y.max()) / 2
    hi = y > cut
    mu0, mu1 = (y[~hi].mean() if (~hi).any() else y.min()), (y[hi].mean() if hi.any() else y.max())
    mid = float(np.median(lx[hi])) if hi.any() else float(lx.max())
    return np.array([mid, 4.0, mu0, 1.0, mu1, 1.0])


def fit_mixture(
    data: pd.DataFrame,
    x: str = "params",
    tau: float = 0.5,
    successes: str = "successes",
    trials: str = "trials",
) -> MixtureFit:
    """Fit the per-organism emergence model to one behaviour (one row per organism with counts).

    Raises:
        InsufficientDataError: Fewer than 3 rungs or 6 organisms, or missing counts.
    """
    missing = [c for c in (x, successes, trials) if c not in data]
    if missing:
        raise InsufficientDataError(f"the data lack column(s) {', '.join(missing)}")
    d = data[[x, successes, trials] + (["seed"] if "seed" in data else [])].dropna()
    d = d[(d[x] > 0) & (d[trials] > 0)]
    if d[x].nunique() < 3 or len(d) < 6:
        raise InsufficientDataError(f"a per-organism model needs ≥ 3 rungs and ≥ 6 organisms; got {len(d)}")
    xs = d[x].to_numpy(float)
    lx = np.log10(xs)
    y = log_odds(d[successes].to_numpy(float), d[trials].to_numpy(float))
    seeds = d["seed"].to_numpy(int) if "seed" in d else np.zeros(len(d), int)
    # EM finds a local maximum: start it with the midpoint at every rung and between rungs, keep the best
    # (a profile that found a better fit than the fit would give an interval that excludes the estimate).
    rungs = np.unique(lx)
    mids = np.concatenate([rungs, (rungs[1:] + rungs[:-1]) / 2])
    starts = np.repeat(_start(lx, y)[None], len(mids) + 1, axis=0)
    starts[1:, 0] = mids
    thetas, lls = em(lx, y, np.ones((len(starts), len(y))), starts)
    best = int(np.nanargmax(np.where(np.isfinite(lls), lls, -np.inf)))
    theta, ll = thetas[best], float(lls[best])
    if theta[2] > theta[4]:  # keep component 1 the turned one
        theta = np.array([theta[0], theta[1], theta[4], theta[5], theta[2], theta[3]])
    # The alternatives: one normal of the log-odds (2 parameters), and every organism on one smooth rising
    # trend, a normal about a logistic in log10 scale (5): organisms that rise together, not one by one.
    n = len(y)
    sd1 = max(float(np.std(y)), SIGMA_MIN)
    ll1 = float(np.sum(_normal_logpdf(y, float(np.mean(y)), sd1)))
    bic_two, bic_one, bic_smooth = (-2 * ll + 6 * math.log(n), -2 * ll1 + 2 * math.log(n),
                                    -2 * _smooth_loglik(lx, y) + 5 * math.log(n))  # fmt: skip
    two = bool(bic_two < min(bic_one, bic_smooth))
    turned_rate = float(expit(theta[4]))
    notes = []
    if not two and bic_smooth < bic_one:
        notes.append(
            "one smooth trend shared by every organism describes them better (BIC): they rise together, not one by one"
        )
    elif not two:
        notes.append("one component describes the organisms better (BIC): no per-organism transition")
    elif turned_rate < tau:
        notes.append(f"the high component's typical rate {turned_rate:.2f} is below τ = {tau}: no organism turned")
        two = False
    z = theta[1] * (lx - theta[0])
    a1 = -np.logaddexp(0, -z) + _normal_logpdf(y, theta[4], theta[5])
    a0 = -np.logaddexp(0, z) + _normal_logpdf(y, theta[2], theta[3])
    turned = np.exp(a1 - np.logaddexp(a0, a1))
    loso: dict[int, np.ndarray] = {}
    mid_iv, slope_iv = (math.nan, math.nan), (math.nan, math.nan)
    if two:
        mid_iv = profile_interval(lx, y, theta, 0)
        slope_iv = profile_interval(lx, y, theta, 1)
        if len(np.unique(seeds)) >= 3:
            uniq = np.unique(seeds)
            w = np.array([(seeds != s).astype(float) for s in uniq])
            refit, _ = em(lx, y, w, theta)
            loso = {int(s): refit[i] for i, s in enumerate(uniq)}
    return MixtureFit(xs, y, seeds, theta, turned, mid_iv, slope_iv, loso, bool(two), turned_rate, notes)


def rise_together(m: MixtureFit | None) -> bool:
    """Whether one smooth trend shared by every organism describes them better than organisms turning one by one."""
    return m is not None and any("rise together" in n for n in m.notes)


def sudden_verdict(m: MixtureFit | None, pooled: Emergence | None) -> tuple[bool | None, str]:
    """Whether a behaviour emerges suddenly, as a property of organisms (None: no verdict), and why.

    Organisms that turn one by one: the mixture's verdict (:attr:`MixtureFit.sudden`). Organisms that
    rise together (told apart from turning one by one only with ≥ 3 seeds): the pooled curve is each
    organism's curve, so the verdict is the pooled logistic's — sharper than a decade across its
    whole bootstrap interval. Otherwise none.
    """
    if m is not None and m.emerged:
        loso = m.loso_sharpness
        why = (
            f"every seed left out: {loso[0]:.2f}–{loso[1]:.2f} dec."
            if math.isfinite(loso[0])
            else f"not checked by leaving seeds out: {len(np.unique(m.seeds))} seeds, 3 needed"
        )
        return m.sudden, why
    if m is not None and len(np.unique(m.seeds)) < 3 and pooled is not None and math.isfinite(pooled.log10_scale):
        # Two seeds cannot tell organisms rising together from organisms turning one by one.
        return None, f"{len(np.unique(m.seeds))} seeds cannot tell organisms rising together from turning one by one"
    if rise_together(m) and pooled is not None and math.isfinite(pooled.log10_scale):
        broad = pooled.sharpness_interval[1]
        sudden = bool(pooled.sharpness_decades < 1 and math.isfinite(broad) and broad < 1)
        return sudden, "organisms rise together: the pooled curve"
    return None, ""
