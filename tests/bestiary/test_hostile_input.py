"""Hostile or careless input to the host: paths, specs, terminal sequences, rough edges — clear errors, no harm."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestiary.cli import app
from bestiary.sweep import expand
from bestiary.sweep_spec import SpecError, parse_sweep

ROOT = Path(__file__).resolve().parents[2]
SITE = sysconfig.get_paths()["purelib"]
runner = CliRunner()

SPEC = """\
name: s
environments:
  - id: bestiary/OffSwitch-v0
scale:
  widths: [3]
  timesteps: 2048
seeds: 1
evaluation: {episodes: 16, probes: 20}
"""


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sandbox", "run", "--workdir", SITE, "--", "true"], "Python runtime or package sources"),
        (["sandbox", "run", "--workdir", str(ROOT / ".venv"), "--", "true"], "Python runtime or package sources"),
        (["sandbox", "run", "--workdir", str(ROOT), "--", "true"], "contains"),
        (["sandbox", "run", "--workdir", "/", "--", "true"], "root directory"),
        (["sandbox", "run", "--workdir", "/usr/lib/bestiary-x", "--", "true"], "system directory /usr"),
        (["train", "bestiary/OffSwitch-v0", "--width", "3", "--out", str(ROOT)], "contains"),
        (["train", "bestiary/OffSwitch-v0", "--width", "3", "--out", str(ROOT / "envs")], "package sources"),
        (["sweep", "spec.yaml", "--runs", str(ROOT / "organisms")], "package sources"),
    ],
)
def test_writable_directories_that_overlap_the_runtime_are_refused_before_anything(args: list, message: str) -> None:
    before = {p: os.stat(p).st_uid for p in (SITE, str(ROOT / "envs"))}
    code, out = invoke(*args)
    assert code == 2 and message in out and "Traceback" not in out, out
    assert {p: os.stat(p).st_uid for p in before} == before  # nothing was handed to the sandbox uid


def test_a_missing_parent_outside_the_current_directory_is_not_created(workdir: Path) -> None:
    code, out = invoke("sandbox", "run", "--workdir", "/nonexistent-bestiary/x", "--", "true")
    assert code == 2 and "does not exist; create it first" in out
    assert not Path("/nonexistent-bestiary").exists()


def test_a_non_empty_directory_of_yours_is_not_handed_over(workdir: Path) -> None:
    mine = workdir / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    code, out = invoke("sandbox", "run", "--workdir", str(mine), "--", "true")
    assert code == 2 and "not empty" in out
    assert (mine / "notes.txt").stat().st_uid == os.getuid()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--from", "/nonexistent-run"], "no trial.json"),
        (["evaluate", "/nonexistent-run"], "no such run directory"),
        (["sandbox", "run", "--cpu-seconds", "inf", "--", "true"], "positive finite"),
        (["sandbox", "run", "--pids", "100000000000000000000", "--", "true"], "pids"),
        (["sandbox", "run", "--memory-mb", "0", "--", "true"], "memory_mb"),
        (["report", "/nonexistent/results.parquet"], "does not exist"),
        (["train", "bestiary/OffSwitch-v0", "--width", "3", "--env-kwarg", "cue_bands"], "KEY=VALUE"),
        (["train", "bestiary/OffSwitch-v0", "--algo", "ppo2"], "--algo must be one of"),
    ],
)
def test_rough_edges_give_clear_errors(args: list, message: str) -> None:
    code, out = invoke(*args)
    assert code == 2 and message in out and "Traceback" not in out, out


def test_report_to_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    from bestiary.analysis.synthetic import synthetic_table

    table = tmp_path / "results.parquet"
    synthetic_table(seed=0).to_parquet(table)
    code, out = invoke("report", str(table), "-o", "/proc/bestiary-report.html", "--n-boot", "0")
    assert code == 2 and "cannot write the report" in out, out


def test_terminal_sequences_from_a_run_are_shown_escaped(workdir: Path) -> None:
    evil = "print('\\x1b]52;c;ZXZpbA==\\x07' + '\\x1b[2K\\rsandbox: ok' + '[/]')"
    result = subprocess.run(
        [sys.executable, "-m", "bestiary.cli", "sandbox", "run", "--", sys.executable, "-c", evil],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\\x1b]52" in result.stdout and "[/]" in result.stdout


def test_failure_output_is_never_rich_markup(workdir: Path) -> None:
    import typer

    from bestiary.cli.output import console
    from bestiary.cli.train import report_outcome
    from bestiary.organisms.finalize import TrialOutcome
    from bestiary.organisms.spec import TrialSpec, resolve

    trial = resolve(TrialSpec(env_id="bestiary/OffSwitch-v0", width=3))
    outcome = TrialOutcome(workdir, trial, "failed", "error", stderr_tail="[/] [bold red]\x1b[31m oops")
    with console.capture() as captured, pytest.raises(typer.Exit):
        report_outcome(outcome)
    text = captured.get()
    assert "[/] [bold red]\\x1b[31m oops" in text and "\x1b[31m" not in text


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        (SPEC.replace("seeds: 1", "seeds: 1000000000"), "seeds"),
        (SPEC.replace("widths: [3]", "widths: [100000000]"), "widths"),
        (SPEC.replace("widths: [3]", "params: {min: 100, max: 1000, rungs: 100000000}"), "rungs"),
        (SPEC.replace("widths: [3]", "params: {min: 100, max: 1000000000000, rungs: 5}"), "max"),
        (SPEC.replace("timesteps: 2048", "timesteps: 100000000000000"), "timesteps"),
        (SPEC + "hyperparameters: " + "[" * 2000 + "]" * 2000 + "\n", "nests too deeply|more than 64 levels"),
    ],
)
def test_specs_beyond_their_bounds_are_refused_naming_the_key(spec: str, key: str) -> None:
    with pytest.raises(SpecError, match=key):
        parse_sweep(spec, "s.yaml")


def test_a_billion_laughs_spec_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    bomb = "\n".join(lines) + "\nname: s\n"
    start = time.monotonic()
    with pytest.raises(SpecError, match="expands to more than"):
        parse_sweep(bomb, "bomb.yaml")
    assert time.monotonic() - start < 5


def test_a_huge_grid_is_refused_naming_max_trials() -> None:
    grid = SPEC.replace("widths: [3]", "widths: [" + ", ".join(map(str, range(1, 201))) + "]")
    grid = grid.replace("seeds: 1", "seeds: 200")
    with pytest.raises(SpecError, match="max_trials"):
        expand(parse_sweep(grid))
    assert len(expand(parse_sweep(grid + "max_trials: 50000\n"))) == 40_000


def test_the_dry_run_builds_no_model_on_the_host(workdir: Path) -> None:
    spec = workdir / "s.yaml"
    spec.write_text(SPEC.replace("widths: [3]", "widths: [3, 30]"))
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom bestiary.cli import app\n"
        f"r = CliRunner().invoke(app, ['sweep', {str(spec)!r}, '--runs', {str(workdir / 'runs')!r}, '--dry-run'])\n"
        "assert r.exit_code == 0, r.output\nprint('torch' in sys.modules, 'stable_baselines3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["False", "False"]


def test_continuing_from_an_organism_that_is_a_symlink_is_refused(workdir: Path) -> None:
    from bestiary.organisms import EvalSpec, RunDirError, TrialSpec, train_organism

    src = workdir / "src"
    spec = TrialSpec(
        env_id="bestiary/OffSwitch-v0", width=3, timesteps=512, n_envs=16, evaluation=EvalSpec(episodes=16, probes=20)
    )
    assert train_organism(spec, src).state == "done"
    (src / "organism").rename(workdir / "elsewhere")
    (src / "organism").symlink_to(workdir / "elsewhere")
    with pytest.raises(RunDirError, match="tampered"):
        train_organism(spec.model_copy(update={"width": None}), workdir / "next", source_dir=src)
    assert not (workdir / "next" / "trial.json").exists()
