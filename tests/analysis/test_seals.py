"""Several seals scored together: the lead in training compute and the signed error of each prediction."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bestiary.analysis.seals import Seal, error_lead_figure, lead_rows, lead_table

KAPPA = 62.0  # PPO with 10 epochs: C = 62·N·T


def _table() -> pd.DataFrame:
    rows = []
    for i, (n, t) in enumerate([(100, 1e4), (300, 1e4), (1000, 1e4), (3000, 1e4), (100, 1e5)]):
        rows.append({"trial_id": f"t{i}", "env_id": "e/A-v0", "env_kwargs": "{}", "params": n, "timesteps": t,
                     "compute": KAPPA * n * t, "status": "done"})  # fmt: skip
    return pd.DataFrame(rows)


def _scores(**over: object) -> pd.DataFrame:
    row = {"env_id": "e/A-v0", "env_kwargs": "{}", "axis": "params", "at": "timesteps 10,000", "method": "behaviour",
           "log10_estimate": 3.2, "interval_low": 3.0, "interval_high": 3.5, "truth_log10": 3.4,
           "largest_trained_log10": 3.5, "error_decades": 0.2, "censored": False, "covered": True,
           "within_factor_two": True, "lead_decades": 0.9, "outcome": "hit", "kind": "forecast",
           "at_value": 1e4}  # fmt: skip
    return pd.DataFrame([{**row, **over}])


def test_the_lead_is_counted_in_compute_from_what_the_seal_saw_of_the_environment() -> None:
    df = _table()
    seal = Seal("seal 1", {"organisms": {"t0": "h", "t1": "h"}}, scores=_scores())  # saw up to 300 × 1e4
    (row,) = lead_rows([seal], df).itertuples()
    seen = math.log10(KAPPA * 300 * 1e4)
    assert row.lead_compute_decades == pytest.approx(math.log10(KAPPA) + 3.4 + 4 - seen)
    assert row.signed_error == pytest.approx(-0.2)
    assert (row.error_low, row.error_high) == (pytest.approx(-0.4), pytest.approx(0.1))
    # Along the compute axis the truth is a compute already.
    compute_axis = Seal(
        "seal 2",
        {"organisms": {"t0": "h"}},
        scores=_scores(axis="compute", at="params 100", at_value=100.0, truth_log10=9.0, log10_estimate=9.5),
    )
    (row,) = lead_rows([compute_axis], df).itertuples()
    assert row.lead_compute_decades == pytest.approx(9.0 - math.log10(KAPPA * 100 * 1e4))
    assert row.signed_error == pytest.approx(0.5)


def test_a_truth_beyond_the_data_has_no_lead_and_the_figure_still_draws() -> None:
    seal = Seal(
        "seal 1",
        {"organisms": {"t0": "h"}},
        scores=_scores(truth_log10=math.nan, outcome="false alarm", censored=True, error_decades=0.3),
    )
    rows = lead_rows([seal], _table())
    assert math.isnan(rows.lead_compute_decades.iloc[0]) and math.isnan(rows.signed_error.iloc[0])
    (summary,) = lead_table(rows)
    assert summary["median |error| (dec.)"] == "≥ 0.30" and summary["median lead (dec. of compute)"] == "—"
    assert error_lead_figure(rows).startswith(b"\x89PNG")
    assert error_lead_figure(lead_rows([Seal("x", {"organisms": {}}, scores=_scores())], _table())).startswith(
        b"\x89PNG"
    )
