"""A precursor forecast may not borrow its critical level from emergences above its own data."""

from __future__ import annotations

import math
import warnings

import numpy as np

from bestiary.analysis import lead_time, precursor_backtest
from bestiary.analysis.forecast import LevelSource, critical_level, levels_from_below
from bestiary.analysis.synthetic import synthetic_table


def _parts(df, env):  # type: ignore[no-untyped-def]
    g = df[df.env_id == env]
    return (
        g[(g.metric == "violation_rate") & (g.condition == "off")],
        g[(g.metric == "logodds_gap") & (g.condition == "probe")],
    )


def test_a_level_calibrated_only_far_above_the_forecast_gives_no_lead() -> None:
    # The target turns at 10^4, the only other variant at 10^5: before the target's jump, no organism
    # at or below the forecast's rungs has shown where behaviour flips.
    df = synthetic_table({"t/Target-v0": (4.0, 6.0), "t/Other-v0": (5.0, 6.0)}, rungs=9, seeds=4, seed=1)
    behaviour, precursor = _parts(df, "t/Target-v0")
    other = LevelSource("t/Other-v0", *_parts(df, "t/Other-v0"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        borrowed = precursor_backtest(behaviour, precursor, critical_level(*_parts(df, "t/Other-v0")), n_boot=0)
        honest = precursor_backtest(behaviour, precursor, levels_from_below([other]), n_boot=0)
    assert math.isfinite(lead_time(borrowed))  # the level from 10^5 "forecast" the jump at 10^4
    assert math.isnan(lead_time(honest))
    before = [r for r in honest if r.max_log10_scale_used < 4.9]
    assert before and all(not math.isfinite(r.forecast_log10) for r in before)
    assert all("no critical level from organisms" in r.note for r in before)


def test_a_level_calibrated_below_the_forecast_is_used() -> None:
    df = synthetic_table({"t/Target-v0": (4.6, 6.0), "t/Other-v0": (3.4, 6.0)}, rungs=9, seeds=4, seed=2)
    behaviour, precursor = _parts(df, "t/Target-v0")
    level = levels_from_below([LevelSource("t/Other-v0", *_parts(df, "t/Other-v0"))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = precursor_backtest(behaviour, precursor, level, n_boot=0)
    usable = [r for r in rows if math.isfinite(r.forecast_log10)]
    assert usable and all("critical level" in r.note for r in usable)
    assert math.isfinite(lead_time(rows)) and np.isfinite(level(4.0)[0])
