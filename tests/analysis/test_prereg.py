"""The pre-registered scoring rule: the latest seal at least a decade of compute below the measured emergence."""

from __future__ import annotations

import math

import pandas as pd

from bestiary.analysis.prereg import rule_scores, rule_table, verdict
from bestiary.analysis.seals import Seal


def _score(env: str, at: str, truth: float, estimate: float, outcome: str, **over: object) -> dict:
    return {"env_id": env, "env_kwargs": "{}", "axis": "compute", "at": at, "method": "behaviour",
            "log10_estimate": estimate, "interval_low": estimate - 0.2, "interval_high": estimate + 0.2,
            "truth_log10": truth, "error_decades": abs(estimate - truth), "covered": abs(estimate - truth) <= 0.2,
            "outcome": outcome, "kind": "forecast", "lead_decades": 1.0, "largest_trained_log10": 13.0,
            "censored": False, "within_factor_two": outcome == "hit", "at_value": 100.0, **over}  # fmt: skip


def _seal(k: int, level: float, rows: list[dict], mechanisms: dict[str, str]) -> Seal:
    doc = {"context": {"sealed_below": {"compute": level}},
           "predictions": [{"env_id": e, "mechanism": m} for e, m in mechanisms.items()]}  # fmt: skip
    return Seal(f"seal {k}", doc, scores=pd.DataFrame(rows))


MECH = {"e/A-v0": "band", "e/B-v0": "band", "e/C-v0": "pool", "e/D-v0": "tamper", "e/E-v0": "memory"}


def test_the_latest_seal_a_decade_below_is_scored_and_a_closer_later_one_is_not() -> None:
    # Truth 11.5: seal 1 (1e9) and seal 2 (1e10) are ≥ 1 decade below; seal 3 (1e11) only 0.5.
    seals = [
        _seal(1, 1e9, [_score("e/A-v0", "params 100", 11.5, 10.0, "miss")], MECH),
        _seal(2, 1e10, [_score("e/A-v0", "params 100", 11.5, 11.4, "hit")], MECH),
        _seal(3, 1e11, [_score("e/A-v0", "params 100", 11.5, 13.0, "miss")], MECH),
    ]
    (row,) = rule_scores(seals).itertuples()
    assert (row.seal, row.outcome) == ("seal 2", "hit")
    assert math.isclose(row.lead_decades, 1.5)
    # The order the seals are given in does not matter.
    assert rule_scores(seals[::-1]).seal.tolist() == ["seal 2"]


def test_a_target_with_no_seal_far_enough_below_is_listed_but_not_scored_and_no_truth_is_skipped() -> None:
    seals = [
        _seal(
            1,
            1e9,
            [
                _score("e/A-v0", "params 100", 9.5, 9.4, "hit"),
                _score("e/A-v0", "params 300", math.nan, 9.0, "false alarm"),
            ],
            MECH,
        ),
    ]
    rows = rule_scores(seals)
    assert rows["at"].tolist() == ["params 100"] and rows.seal.tolist() == [""]
    v = verdict(rows)
    assert (v.scored, v.unscored, v.success) == (0, 1, False) and math.isnan(v.coverage)
    assert rule_table(rows)[0]["scored seal"] == "none ≥ 1 decade below"


def test_the_verdict_needs_four_environments_of_three_mechanisms_and_coverage() -> None:
    rows = [_score(e, "params 100", 12.0, 12.1, "hit") for e in ["e/A-v0", "e/B-v0", "e/C-v0", "e/D-v0"]]
    v = verdict(rule_scores([_seal(1, 1e10, rows, MECH)]))
    assert v.foreseen == ("e/A-v0", "e/B-v0", "e/C-v0", "e/D-v0") and v.mechanisms == ("band", "pool", "tamper")
    assert v.coverage == 1.0 and v.success
    # Two band-reading environments are one mechanism: three environments of two mechanisms fail.
    v = verdict(rule_scores([_seal(1, 1e10, rows[:3], MECH)]))
    assert not v.success and len(v.mechanisms) == 2
    # Coverage below 80 % fails even with enough hits.
    wide_misses = [_score("e/E-v0", f"params {n}", 12.0, 13.0, "miss") for n in (1, 2)]
    v = verdict(rule_scores([_seal(1, 1e10, rows + wide_misses, MECH)]))
    assert math.isclose(v.coverage, 4 / 6) and not v.success


def test_the_report_prints_the_rule_and_its_verdict_beside_the_lead_table() -> None:
    from bestiary.analysis.report_sections import forecast_section

    rows = [_score(e, "params 100", 12.0, 12.1, "hit") for e in ["e/A-v0", "e/C-v0"]]
    seals = [_seal(1, 1e9, rows, MECH), _seal(2, 1e10, rows, MECH)]
    page = forecast_section(seals, None, pd.DataFrame())
    assert "The pre-registered score" in page and "2 target(s) scored" in page and "NOT met." in page
    assert page.count("seal 2</td>") == 2  # the later seal a decade below is the one scored


def test_an_original_seal_given_with_its_amendment_is_left_to_the_amendment() -> None:
    original = _seal(1, 1e10, [_score("e/A-v0", "params 100", 12.0, 13.0, "miss")], MECH)
    original.doc["sha256"] = "abc"
    amended = _seal(1, 1e10, [_score("e/A-v0", "params 100", 12.0, 12.1, "hit")], MECH)
    amended.doc["context"]["amends"] = {"sha256": "abc"}
    amended.label = "seal 1 amended"
    for order in ([original, amended], [amended, original]):
        (row,) = rule_scores(order).itertuples()
        assert (row.seal, row.outcome) == ("seal 1 amended", "hit")
