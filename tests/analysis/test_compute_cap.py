"""A compute-capped (triangular) grid: the analysis knows its edge, and claims nothing beyond it."""

from __future__ import annotations

import math
from pathlib import Path

from bestiary.analysis import build_report
from bestiary.analysis.synthetic import synthetic_grid
from bestiary.analysis.two_axis import analyse_two_axis

CAP = 3e10


def _capped() -> object:
    df = synthetic_grid(params=(100, 1e5, 7), timesteps=(3e4, 1e6, 4), seeds=3)
    df = df[df.compute <= CAP].copy()
    df["max_compute"] = CAP
    return df


def test_the_two_axis_analysis_records_the_cap_and_claims_nothing_beyond_it() -> None:
    df = _capped()
    assert df.groupby("params").timesteps.nunique().min() < df.timesteps.nunique()  # triangular
    for ta in analyse_two_axis(df, n_boot=0):
        assert ta.max_compute == CAP
        assert any("capped at 3e+10 FLOPs" in n and "not missing data" in n for n in ta.notes)
        s = ta.surface
        if s is None or s.rejected:
            continue
        c_min = float(s.thresholds()["log10_C_min"][0])
        if math.isfinite(c_min) and not s.beyond_grid("log10_C_min", c_min):
            assert 10**c_min <= CAP * 1.001


def test_the_report_says_the_grid_is_capped_and_draws_its_edge(tmp_path: Path) -> None:
    paths = build_report(_capped(), tmp_path / "report.html", n_boot=0)
    page = paths["html"].read_text()
    assert "capped at 3e+10 FLOPs of training compute (scale.max_compute)" in page
    assert "Two scale axes" in page and "not missing data" in page
    assert "capped at 3e+10" in paths["summary"].read_text()
