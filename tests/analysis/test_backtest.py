"""Backtests on synthetic data with a known sudden break: behaviour alone gives no warning, the precursor does."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bestiary.analysis import BacktestRow, backtest, critical_level, lead_time, precursor_backtest
from bestiary.analysis.report import analyse
from bestiary.analysis.synthetic import synthetic_table


def _parts(df, env):  # type: ignore[no-untyped-def]
    g = df[df.env_id == env]
    return g[(g.metric == "violation_rate") & (g.condition == "off")], g[g.metric == "logodds_gap"]


def test_sudden_break_precursor_leads_behaviour() -> None:
    # Rungs every half decade from 10^2.5; the target breaks sharply at 10^4.25.
    df = synthetic_table(
        envs={"t/Target-v0": (4.25, 10.0), "t/Other-v0": (3.75, 10.0), "t/Third-v0": (4.75, 10.0)},
        seeds=4,
        seed_jitter=0.03,
        seed=1,
    )
    behaviour, precursor = _parts(df, "t/Target-v0")
    rows = backtest(behaviour, n_boot=30)
    ref = rows[0].reference_log10
    assert abs(ref - 4.25) < 0.1
    # Behaviour alone: from the 3 smallest rungs (up to 10^3.48, all at the floor) no crossing at all; it
    # sees the jump coming only from the rung just below it (10^3.98), at most 0.28 decades ahead.
    assert math.isnan(rows[0].forecast_log10)
    behaviour_lead = lead_time(rows)
    assert math.isnan(behaviour_lead) or behaviour_lead < 0.3
    # The critical precursor level comes from the other environments (true value 3 for all).
    levels = [critical_level(*_parts(df, env)) for env in ("t/Other-v0", "t/Third-v0")]
    assert np.allclose(levels, 3.0, atol=0.3)
    prows = precursor_backtest(behaviour, precursor, float(np.mean(levels)), n_boot=30)
    # The precursor is smooth: from the 3 smallest rungs it places the break within a factor of 2, so the
    # expected lead time is 4.25 − log10(3000) ≈ 0.78 decades.
    assert prows[0].kind == "forecast" and prows[0].error_decades < math.log10(2)
    assert lead_time(prows) == pytest.approx(ref - np.log10(3000))
    assert lead_time(prows) > 0.7


def test_forecasts_that_used_the_jump_are_not_forecasts() -> None:
    df = synthetic_table(envs={"t/Target-v0": (4.0, 8.0)}, seeds=3, seed=2)
    behaviour, _ = _parts(df, "t/Target-v0")
    for r in backtest(behaviour, n_boot=20):
        if math.isfinite(r.forecast_log10) and r.max_log10_scale_used >= r.reference_log10:
            assert r.kind == "nowcast"


def test_critical_level_only_from_emergences_the_data_support() -> None:
    # A control whose logistic would cross τ only two decades beyond the ladder (and whose precursor is flat)
    # must not lend its precursor value there to the other environments' critical level.
    df = synthetic_table(
        envs={"t/Target-v0": (4.0, 8.0), "t/Other-v0": (3.5, 8.0), "t/Control-v0": (7.5, 3.0)}, seeds=2, seed=4
    )
    flat = (df.env_id == "t/Control-v0") & (df.metric == "logodds_gap")
    df.loc[flat, "value"] = 0.1 + 0.01 * np.random.default_rng(0).standard_normal(int(flat.sum()))
    (target,) = [va for va in analyse(df, precursor="logodds_gap", n_boot=20) if va.key[0] == "t/Target-v0"]
    assert target.critical == pytest.approx(3.0, abs=0.3)
    (note,) = [n for n in target.notes if n.startswith("precursor critical level")]
    assert "t/Other-v0" in note and "t/Control-v0" not in note
    assert math.isnan(critical_level(*_parts(df, "t/Control-v0")))  # the library function keeps the same rule


def test_lead_time_needs_the_forecast_to_stay_within_a_factor_of_two() -> None:
    def row(used: float, fc: float, kind: str = "forecast") -> BacktestRow:
        ref = 4.0
        return BacktestRow("precursor", 0, used, fc, (fc, fc), ref, abs(fc - ref), False, kind)

    lucky = [row(2.5, 4.1), row(3.0, 5.0), row(3.2, math.nan, "none"), row(3.4, 3.9), row(3.7, 4.05), row(4.2, 4.0)]
    assert lead_time(lucky) == pytest.approx(1.5)  # the first hit, then misses
    assert lead_time(lucky, stable=True) == pytest.approx(0.6)  # from 10^3.4 on, every forecast before 10^4 held
    assert math.isnan(lead_time(lucky[:3], stable=True))  # the last forecast before the reference missed


def test_backtests_at_one_budget_per_variant_of_a_grid_and_at_the_only_one_otherwise() -> None:
    from bestiary.analysis.synthetic import synthetic_grid

    single = analyse(synthetic_table(seeds=2, seed=2), precursor="logodds_gap", n_boot=0)
    assert all(va.backtest_rows for va in single if math.isfinite(va.emergences["off"].log10_scale))
    grid = analyse(synthetic_grid(seeds=2, timesteps=(3e4, 1e6, 3)), precursor="logodds_gap", n_boot=0)
    by_variant: dict[tuple[str, str], list[float]] = {}
    for va in grid:
        if va.backtest_rows:
            by_variant.setdefault(va.key, []).append(va.timesteps)
    assert by_variant and all(len(budgets) == 1 for budgets in by_variant.values())
    for va in grid:
        if va.key in by_variant and va.timesteps not in by_variant[va.key]:
            why = ("backtests along params are made at one budget", "no emergence with oversight off")
            assert any(n.startswith(why) for n in va.notes), va.notes
