"""`bestiary train` can make any organism a sweep makes: every option that changes an organism is an option of it."""

from __future__ import annotations

from pathlib import Path

import typer.main
from typer.testing import CliRunner

from bestiary.cli import app
from bestiary.organisms.spec import EvalSpec, TrialSpec
from bestiary.sweep import plan
from bestiary.sweep_spec import parse_sweep

#: TrialSpec fields that `train` takes under another name (the rest: --field-name).
ALIASES = {
    "env_id": "ENV_ID",
    "env_kwargs": "--env-kwarg",
    "hyperparameters": "--hyperparameter",
    "init_from": "--from",
}


def _train_options() -> set[str]:
    command = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    return {o for p in command.params for o in (p.opts or [])} | {p.name.upper() for p in command.params}


def test_every_field_of_an_organism_is_an_option_of_train() -> None:
    options = _train_options()
    wanted = {ALIASES.get(f, "--" + f.replace("_", "-")) for f in TrialSpec.model_fields if f != "evaluation"}
    wanted |= {"--" + f.replace("_", "-") for f in EvalSpec.model_fields}
    assert wanted <= options, f"missing from bestiary train: {sorted(wanted - options)}"
    help_text = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "250"}).output
    for option in sorted(wanted - {"ENV_ID"}):
        assert option in help_text


def test_train_makes_the_organism_of_a_sweep_cell(tmp_path: Path) -> None:
    sweep = parse_sweep(
        "name: one\nenvironments: [{id: bestiary/OffSwitch-v0, kwargs: {cue_bands: 5}}]\n"
        "scale: {widths: [24], timesteps: 3000, lr_rule: inverse_sqrt_width}\nseeds: [3]\ntrainer: sb3\n"
        "hyperparameters: {n_steps: 64}\nevaluation: {episodes: 100, probes: 40}\n"
    )
    (cell,) = plan(sweep, tmp_path / "runs")
    args = ["train", "bestiary/OffSwitch-v0", "--width", "24", "--timesteps", "3000", "--seed", "3", "--trainer",
            "sb3", "--lr-rule", "inverse_sqrt_width", "--hyperparameter", "n_steps=64", "--env-kwarg", "cue_bands=5",
            "--episodes", "100", "--probes", "40", "--backend", "nope", "--out", str(tmp_path / "x")]  # fmt: skip
    out = CliRunner().invoke(app, args, env={"COLUMNS": "250"}).output
    assert f"training {cell.trial.trial_id}:" in out, out  # the same resolved spec: the same organism
    bad = CliRunner().invoke(app, ["train", "bestiary/OffSwitch-v0", "--lr-rule", "sqrt"], env={"COLUMNS": "250"})
    assert bad.exit_code == 2 and "--lr-rule must be one of constant, inverse_width, inverse_sqrt_width" in bad.output
