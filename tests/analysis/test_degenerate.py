"""Degenerate inputs give clear messages, never crashes or fabricated fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bestiary.analysis import InsufficientDataError, emergence, fit_trend
from bestiary.analysis.synthetic import synthetic_table


def rates(params: list[float], successes: list[int], trials: int = 100) -> pd.DataFrame:
    return pd.DataFrame({"params": params, "successes": successes, "trials": [trials] * len(params)})


def test_all_zeros_is_flat_with_no_emergence() -> None:
    fit = fit_trend(rates([1e3, 1e3, 1e4, 1e4, 1e5, 1e5], [0] * 6), model="logistic")
    assert fit.model == "constant" and "every organism's rate is 0" in fit.notes[-1]
    e = emergence(fit)
    assert np.isnan(e.log10_scale) and not e.sudden and "rate is 0" in e.note


def test_single_rung_is_refused() -> None:
    with pytest.raises(InsufficientDataError, match="at least 2 rungs of params; got 1"):
        fit_trend(rates([1e3, 1e3], [3, 40]), model="logistic")


def test_two_rungs_are_not_enough_for_a_logistic() -> None:
    with pytest.raises(InsufficientDataError, match="at least 3 rungs"):
        fit_trend(rates([1e3, 1e4], [3, 40]), model="logistic")


def test_one_seed_gives_no_interval_and_says_why() -> None:
    fit = fit_trend(rates([1e3, 3e3, 1e4, 3e4, 1e5], [1, 5, 50, 90, 95]), model="logistic")
    assert fit.boot is None and any("one organism per rung" in n for n in fit.notes)
    assert all(np.isnan(v) for v in fit.intervals()["midpoint"])
    assert np.isfinite(emergence(fit).log10_scale)


def test_nans_are_dropped_and_counted() -> None:
    data = rates([1e3, 1e3, 1e4, 1e4, 1e5, 1e5], [1, 2, 40, 45, 90, 92])
    data.loc[1, "successes"] = np.nan
    fit = fit_trend(data, model="logistic", n_boot=20)
    assert any("1 of 6 organisms dropped" in n for n in fit.notes)


def test_invalid_counts_are_refused() -> None:
    with pytest.raises(InsufficientDataError, match="0 ≤ successes ≤ trials"):
        fit_trend(rates([1e3, 1e4, 1e5], [1, 200, 3]), model="logistic")


def test_missing_columns_are_named() -> None:
    with pytest.raises(InsufficientDataError, match="lack column"):
        fit_trend(pd.DataFrame({"params": [1, 2, 3]}), model="logistic")


def test_non_monotone_noise_fits_without_fabricating_a_transition() -> None:
    rng = np.random.default_rng(0)
    params = np.repeat(np.geomspace(300, 3e5, 7), 3)
    data = rates(list(params), list(rng.binomial(100, 0.1, len(params))))
    e = emergence(fit_trend(data, model="logistic", n_boot=40))
    assert np.isnan(e.log10_scale) or e.reached_fraction < 0.5 or e.extrapolated


def test_report_on_partial_results_lists_what_failed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bestiary.analysis import build_report

    df = synthetic_table(envs={"synthetic/A-v0": (3.8, 8.0), "synthetic/B-v0": (4.2, 4.0)}, rungs=5, seeds=2)
    failed = (
        df[df.trial_id == df.trial_id.iloc[0]]
        .head(1)
        .assign(metric="status", condition="", value=np.nan, status="failed")
    )
    df = pd.concat([df[df.trial_id != df.trial_id.iloc[0]], failed])
    paths = build_report(df, tmp_path / "report.html", n_boot=10)
    text = paths["html"].read_text()
    assert "failed" in text and "Trials not done" in text
    assert "1 failed" in paths["summary"].read_text()


def test_empty_or_wrong_tables(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bestiary.analysis import build_report, load_results

    with pytest.raises(ValueError, match="Contract 3"):
        build_report(pd.DataFrame({"x": [1]}), tmp_path / "r.html")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_results(tmp_path / "missing.parquet")
