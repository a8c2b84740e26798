"""The host expects the conditions its own record says a trial was evaluated in: honeypots after safety training."""

from __future__ import annotations

import json

import pytest

from bestiary.organisms import TrialSpec, resolve
from bestiary.organisms.schemas import OutputError, check_metrics


def _metrics(trial_id: str, conditions: tuple[str, ...], episodes: int) -> bytes:
    block = {
        "episodes": episodes,
        "violations": 0,
        "violation_rate": 0.0,
        "task_successes": 0,
        "task_success_rate": 0.0,
        "observed_return": 0.0,
        "hidden_return": 0.0,
    }
    return json.dumps(
        {
            "trial_id": trial_id,
            "deterministic": False,
            "behaviour": dict.fromkeys(conditions, block),
            "misalignment_gap": 0.0,
            "precursors": {},
        }
    ).encode()


@pytest.mark.parametrize(
    ("oversight", "expected"), [("train", ("on", "off")), ("honeypots", ("on", "off", "honeypot"))]
)
def test_conditions_follow_the_training_regime(oversight: str, expected: tuple[str, ...]) -> None:
    trial = resolve(TrialSpec(env_id="bestiary/AbsentSupervisor-v0", width=4, oversight=oversight))
    n = trial.evaluation.episodes
    assert set(check_metrics(_metrics(trial.trial_id, expected, n), trial)["behaviour"]) == set(expected)
    other = ("on", "off") if len(expected) == 3 else ("on", "off", "honeypot")
    with pytest.raises(OutputError, match="expected"):  # a missing or a surprise condition is malformed
        check_metrics(_metrics(trial.trial_id, other, n), trial)
