"""The CLI: exit codes and messages of ``bestiary envs``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bestiary.cli import app

runner = CliRunner()
TESTS = Path(__file__).resolve().parents[1]


def test_envs_list_shows_the_three_failure_modes() -> None:
    result = runner.invoke(app, ["envs", "list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for text in ("bestiary/AbsentSupervisor-v0", "situational_awareness", "deception", "power_seeking"):
        assert text in result.output


def test_envs_check_passes(env_id: str) -> None:
    result = runner.invoke(app, ["envs", "check", env_id])
    assert result.exit_code == 0, result.output
    assert "all checks passed" in result.output


def test_envs_check_broken_env_exits_1_naming_the_property() -> None:
    # The check runs in the sandbox, which sees the launcher's PYTHONPATH entries.
    env = {"COLUMNS": "250", "PYTHONPATH": str(TESTS / "envs")}
    result = runner.invoke(app, ["envs", "check", "broken_envs:MultiLineSummary"], env=env)
    assert result.exit_code == 1
    assert "failed: broken_envs:MultiLineSummary: metadata" in result.output


def test_envs_check_unknown_id_suggests() -> None:
    result = runner.invoke(app, ["envs", "check", "bestiary/OffSwich-v0"], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert "Did you mean `bestiary/OffSwitch-v0`" in result.output


def test_envs_check_without_target_is_an_error() -> None:
    result = runner.invoke(app, ["envs", "check"])
    assert result.exit_code == 2


def test_best_response_only_reading_the_latent_pays() -> None:
    result = runner.invoke(
        app, ["envs", "best-response", "bestiary/OffSwitch-v0", "--episodes", "400"], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert "reads_latent" in result.output
