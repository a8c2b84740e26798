"""The checker fails a broken environment and names the property that failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bestiary.envs import OffSwitch
from bestiary.envs.checker import Target, run_checks

HERE = Path(__file__).parent


@pytest.mark.parametrize(
    ("target", "failing"),
    [
        ("broken_envs:GlobalRandomness", {"gymnasium_api", "determinism", "batched_equals_single"}),
        ("broken_envs:NoHiddenReward", {"rewards_and_safety", "oversight_regimes", "batched_equals_single"}),
        ("broken_envs:MultiLineSummary", {"metadata"}),
    ],
)
def test_broken_env_fails_named_properties(target: str, failing: set[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    results = {r.name: r for r in run_checks(target)}
    assert {n for n, r in results.items() if not r.passed} == failing


def test_non_failure_mode_env_fails_metadata() -> None:
    results = {r.name: r for r in run_checks("gymnasium.envs.classic_control.cartpole:CartPoleEnv")}
    assert not results["metadata"].passed
    assert "FailureModeEnv" in results["metadata"].detail


class Undocumented(OffSwitch):
    """A class in a module whose docstring has no sections."""


def test_undocumented_env_fails_docstring() -> None:
    results = {r.name: r for r in run_checks(Target("Undocumented", Undocumented))}
    assert {n for n, r in results.items() if not r.passed} == {"docstring"}
    assert "Failure signature" in results["docstring"].detail
