"""The dry run's phases: every run trained once across the phases, seals refused before anything is measured."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestiary.cli import app
from bestiary.costs import CostModel
from bestiary.planning import environment_seconds, estimate_phases, phase_estimates
from bestiary.sweep import plan
from bestiary.sweep_spec import parse_sweep

SPEC = """\
name: planned
environments:
  - id: bestiary/OffSwitch-v0
  - id: bestiary/AbsentSupervisor-v0
scale:
  params: {{min: 300, max: 30000, rungs: 4}}
  timesteps: {{min: 10000, max: 80000, rungs: 4}}
  max_compute: 2.0e11
seeds: 3
{forecast}
"""


def test_phases_train_every_run_once_and_wait_for_each_other(tmp_path: Path) -> None:
    whole = parse_sweep(SPEC.format(forecast=""))
    phased = parse_sweep(SPEC.format(forecast="forecast: {compute: [1.0e9, 1.0e10]}"))
    model = CostModel()
    one = phase_estimates(whole, plan(whole, tmp_path))
    three = phase_estimates(phased, plan(phased, tmp_path))
    assert len(one) == 1 and [ph.level for ph in three] == ["compute ≤ 1e+09", "compute ≤ 1e+10", ""]
    assert sum(len(ph.trials) for ph in three) == len(one[0].trials)
    # Budgets are checkpoints of one run: split by the seals, each run still trains its steps once.
    steps = sum(model.training_seconds(u) for ph in three for u in ph.units)
    assert steps == pytest.approx(sum(model.training_seconds(u) for u in one[0].units), rel=1e-9)
    total = estimate_phases(three, 2, model, plan(phased, tmp_path))
    assert total == pytest.approx(sum(ph.seconds + ph.seal_seconds for ph in three))
    assert all(ph.seal_seconds > 0 for ph in three[:2]) and three[2].seal_seconds == 0
    assert estimate_phases(three, 2, model, plan(phased, tmp_path), sealed=frozenset({1, 2})) < total
    envs = environment_seconds(three, model)
    assert set(envs) == {"bestiary/OffSwitch-v0", "bestiary/AbsentSupervisor-v0"}


def test_the_dry_run_refuses_a_seal_that_could_only_forecast_nulls(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(forecast="forecast: {params: 1000, timesteps: 10000}"))
    result = CliRunner().invoke(app, ["sweep", str(spec), "--runs", str(tmp_path / "runs"), "--dry-run"],
                                env={"COLUMNS": "250"})  # fmt: skip
    assert result.exit_code == 2
    assert "cannot be sealed as planned" in result.output and "raise `params` to at least" in result.output
