"""Analysis: trend fits, emergence, forecasts and backtests, figures, the report.

Reads the results table (Contract 3) and nothing else: it imports no torch,
stable-baselines3, environments or organisms, so a report can be built on a laptop from
a results file alone.
"""

from bestiary.analysis.forecast import BacktestRow, backtest, critical_level, lead_time, precursor_backtest
from bestiary.analysis.report import analyse, build_report
from bestiary.analysis.table import load_results
from bestiary.analysis.trends import Emergence, InsufficientDataError, TrendFit, emergence, fit_trend, within_data

__all__ = [
    "BacktestRow",
    "Emergence",
    "InsufficientDataError",
    "TrendFit",
    "analyse",
    "backtest",
    "build_report",
    "critical_level",
    "emergence",
    "fit_trend",
    "lead_time",
    "load_results",
    "precursor_backtest",
    "within_data",
]
