"""Trend fits on real published scaling curves: fit the points the source fitted, extrapolate the rest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bestiary.analysis.models import MODELS, fit_model
from bestiary.analysis.trends import fit_trend
from tests.analysis.published_curves import PUBLISHED_CURVES


def _rmsle(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.log(pred) - np.log(truth)) ** 2)))


def _split(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y, n_fit = PUBLISHED_CURVES[name]
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    return xs[:n_fit], ys[:n_fit], xs[n_fit:], ys[n_fit:]


def test_bnsl_extrapolates_4digit_addition_as_published() -> None:
    x, y, x_new, y_new = _split("bnsl_4digit_addition")
    fit = fit_trend(pd.DataFrame({"params": x, "value": y}), model="broken_power_law", n_boot=0)
    # Caballero et al. report RMSLE 0.011 on the three extrapolated points.
    assert _rmsle(fit.predict(x_new), y_new) <= 0.03


def test_bnsl_reaches_the_published_fit_when_the_batch_solver_hits_a_bound() -> None:
    """From starts that lead the batched solver into the bounds (c1 = 10, f1 = 0.01), the fallback still fits."""
    x, y, x_new, y_new = _split("bnsl_4digit_addition")
    model = MODELS["broken_power_law"]
    lx, span = np.log10(x), float(np.ptp(y))
    poor = [
        np.array([float(np.min(y)), span * 0.1, 0.0, c, d, 0.3])
        for d in np.linspace(lx.min() + 0.3, lx.max() - 0.3, 3)
        for c in (-1.0, -0.3, 0.3, 1.0)
    ]
    theta, _ = fit_model(model, x, y, starts=poor, keep=1)
    assert _rmsle(model.curve(theta, x_new), y_new) <= 0.03


@pytest.mark.parametrize("name", [n for n in PUBLISHED_CURVES if n.startswith("nmt_")])
def test_model_chosen_by_aic_extrapolates_published_nmt_curves(name: str) -> None:
    x, y, x_new, y_new = _split(name)
    fit = fit_trend(pd.DataFrame({"params": x, "value": y}), model="auto", n_boot=0)
    assert fit.model.startswith("broken_power_law")
    assert np.all(np.abs(fit.predict(x_new) / y_new - 1) <= 0.03), (fit.model, fit.predict(x_new), y_new)
