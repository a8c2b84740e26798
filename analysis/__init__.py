"""Analysis: trend fits, emergence, forecasts and backtests (:mod:`~bestiary.analysis.pipeline`), figures, the report.

Reads the results table (Contract 3) and nothing else: it imports no torch,
stable-baselines3, environments or organisms, so a report can be built on a laptop from
a results file alone. Names are imported on first use, so ``bestiary.analysis.schema``
(which ``bestiary collect`` needs) does not pull in matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "BacktestRow": "forecast",
    "backtest": "forecast",
    "critical_level": "forecast",
    "critical_level_of": "forecast",
    "lead_time": "forecast",
    "precursor_backtest": "forecast",
    "VariantAnalysis": "pipeline",
    "analyse": "pipeline",
    "fits_table": "pipeline",
    "build_report": "report",
    "load_results": "table",
    "Emergence": "trends",
    "InsufficientDataError": "trends",
    "TrendFit": "trends",
    "emergence": "trends",
    "fit_trend": "trends",
    "within_data": "trends",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
