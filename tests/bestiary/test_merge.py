"""Tables of several phases or machines merge into one, each trial once; conflicts and copies are refused."""

from __future__ import annotations

import pandas as pd
import pytest

from bestiary.analysis.schema import COLUMNS, EXTRA_COLUMNS
from bestiary.collect import MergeConflict, merge_tables


def _trial(tid: str, value: float, status: str = "done", content: str | None = None) -> pd.DataFrame:
    base = {c: None for c in [*COLUMNS, *EXTRA_COLUMNS]}
    base.update(trial_id=tid, env_id="e/A-v0", env_kwargs="{}", params=100, timesteps=1000, seed=0, status=status,
                organism_sha256=content or f"content-{tid}")  # fmt: skip
    if status != "done":
        return pd.DataFrame([{**base, "condition": "", "metric": "status", "value": float("nan")}])
    return pd.DataFrame([{**base, "condition": "off", "metric": "violation_rate", "value": value, "successes": 1,
                          "trials": 2}])  # fmt: skip


def test_each_trial_once_and_a_finished_record_wins() -> None:
    a = pd.concat([_trial("t1", 0.5), _trial("t2", 0.0, status="running")])
    b = pd.concat([_trial("t1", 0.5), _trial("t2", 0.25), _trial("t3", 1.0)])
    merged = merge_tables([("phase 1", a), ("phase 2", b)])
    assert sorted(merged.trial_id) == ["t1", "t2", "t3"]
    assert merged.set_index("trial_id").loc["t2", "status"] == "done"
    assert str(merged.successes.dtype) == "Int64"


def test_a_trial_with_other_results_is_a_conflict() -> None:
    with pytest.raises(MergeConflict, match="trial t1 has other results in machine B than in machine A"):
        merge_tables([("machine A", _trial("t1", 0.5)), ("machine B", _trial("t1", 0.75))])


def test_one_organism_under_two_trial_ids_is_a_copy() -> None:
    with pytest.raises(MergeConflict, match="appears under 2 trial ids"):
        merge_tables([("a", _trial("t1", 0.5, content="same")), ("b", _trial("t9", 0.5, content="same"))])
