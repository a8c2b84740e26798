"""How the report writes an emergence scale: open ends, below the data, and estimates outside their interval."""

from __future__ import annotations

import math

from bestiary.analysis.report_sections import emergence_text


def test_an_estimate_outside_its_own_interval_is_flagged() -> None:
    assert "outside its bootstrap interval" in emergence_text(math.log10(8248), (math.log10(8459), math.log10(8532)))
    assert "outside" not in emergence_text(3.0, (2.9, 3.1))


def test_open_ends_and_the_data_edge_are_written_in_words() -> None:
    assert emergence_text(3.0, (2.9, math.inf)) == "1,000 [794, ∞]"
    assert emergence_text(-math.inf, (-math.inf, -math.inf)).startswith("below the data")
    assert emergence_text(math.nan, (4.0, math.inf)) == "not reached (bootstrap draws: [10,000, ∞])"


def test_a_design_smaller_than_the_calibrated_one_is_flagged() -> None:
    from bestiary.analysis.report import design_notes
    from bestiary.analysis.synthetic import synthetic_table

    small = synthetic_table({"t/A-v0": (3.5, 6.0)}, rungs=5, seeds=2)
    assert any("outside the calibrated range" in n for n in design_notes(small))
    # At 5 rungs a one-rung shelf on τ is not identifiable (benchmarks/calibration.py: 0 % refused): the note says so.
    assert any("one-rung shelf" in n and "not refused" in n for n in design_notes(small))
    assert design_notes(synthetic_table({"t/A-v0": (3.5, 6.0)}, rungs=7, seeds=8)) == []
