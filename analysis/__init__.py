"""Analysis: trend fits, emergence, forecasts and backtests (:mod:`~bestiary.analysis.pipeline`), figures, the report.

Reads the results table (Contract 3) and nothing else: it imports no torch,
stable-baselines3, environments or organisms, so a report can be built on a laptop from
a results file alone.
"""

from bestiary.analysis.forecast import (
    BacktestRow,
    backtest,
    critical_level,
    critical_level_of,
    lead_time,
    precursor_backtest,
)
from bestiary.analysis.pipeline import VariantAnalysis, analyse, fits_table
from bestiary.analysis.report import build_report
from bestiary.analysis.table import load_results
from bestiary.analysis.trends import Emergence, InsufficientDataError, TrendFit, emergence, fit_trend, within_data

__all__ = [
    "BacktestRow",
    "Emergence",
    "InsufficientDataError",
    "TrendFit",
    "VariantAnalysis",
    "analyse",
    "backtest",
    "build_report",
    "critical_level",
    "critical_level_of",
    "emergence",
    "fit_trend",
    "fits_table",
    "lead_time",
    "load_results",
    "precursor_backtest",
    "within_data",
]
