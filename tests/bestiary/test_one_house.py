"""What a new or careless user hit, each now fixed: concurrent sweeps, plugins, piped output, defaults, docs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestiary.cli import app
from bestiary.collect import collect

ROOT = Path(__file__).resolve().parents[2]
BESTIARY = [sys.executable, "-m", "bestiary.cli"]
TINY = """\
name: {name}
environments:
  - id: {env}
scale:
  widths: [3, 4]
  timesteps: 2048
seeds: 2
hyperparameters: {{n_steps: 32}}
evaluation: {{episodes: 32, probes: 32}}
executor: {{kind: local, workers: 2}}
retries: 0
"""


def _statuses(root: Path) -> dict[str, dict]:
    return {d.name: json.loads((d / "status.json").read_text()) for d in root.iterdir() if (d / "status.json").exists()}


def test_two_concurrent_sweeps_train_every_organism_once(workdir: Path) -> None:
    spec = workdir / "tiny.yaml"
    spec.write_text(TINY.format(name="both", env="bestiary/OffSwitch-v0"))
    runs = workdir / "runs"
    cmd = [*BESTIARY, "sweep", str(spec), "--runs", str(runs)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outs = [p.communicate(timeout=600)[0] for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outs
    for out in outs:  # both report the full set done, some of it by the other sweep
        assert re.search(r"sweep both: 4 done", out), out
    statuses = _statuses(runs / "both")
    assert len(statuses) == 4 and all(s["state"] == "done" and s["attempts"] == 1 for s in statuses.values())
    for trial in statuses:  # one training run each, and its audit record kept
        records = [json.loads(line) for line in (runs / "both" / trial / "audit.jsonl").read_text().splitlines()]
        assert records and all(r["trial_id"] == trial for r in records)
        # One sandbox run (a population also records each organism as it finishes, before its unit's record).
        runs_of_trial = [r for r in records if "backend" in r]
        assert len(runs_of_trial) == 1, records


def test_a_stale_claim_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    from bestiary.organisms.claims import try_claim

    d = tmp_path / "trial"
    d.mkdir()
    held = try_claim(d)
    assert held is not None and try_claim(d) is None  # a live owner keeps it
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    info = json.loads((d / "claim.json").read_text())
    (d / "claim.json").write_text(json.dumps({**info, "pid": int(dead.stdout), "nonce": "old"}))
    assert held.held() is False
    again = try_claim(d)
    assert again is not None and again.held()


@pytest.fixture
def editable_plugin() -> Iterator[tuple[Path, str]]:
    """The example plugin installed with `pip install -e` from outside the project (removed afterwards)."""
    base = Path("/tmp") / f"bestiary-editable-{os.getpid()}"
    shutil.rmtree(base, ignore_errors=True)
    shutil.copytree(ROOT / "examples" / "plugin_env", base, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    for dirpath, _, filenames in os.walk(base):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", str(base)]
    subprocess.run(pip, check=True, capture_output=True)
    yield base, "bestiary-plugin-example"
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "--quiet", "bestiary-plugin-example"], check=True)
    shutil.rmtree(base, ignore_errors=True)


def test_an_editable_plugin_trains_and_its_code_is_part_of_the_trial(workdir: Path, editable_plugin: tuple) -> None:
    source, package = editable_plugin
    spec = workdir / "plugin.yaml"
    spec.write_text(TINY.format(name="plug", env="example/ExtraCompute-v0").replace("seeds: 2", "seeds: 1"))
    runs = workdir / "runs"
    out = subprocess.run([*BESTIARY, "sweep", str(spec), "--runs", str(runs)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr  # its source is mounted read-only in the sandbox
    ids = set(_statuses(runs / "plug"))
    card = json.loads((runs / "plug" / sorted(ids)[0] / "card.json").read_text())
    assert card["env_code"]["package"] == package and card["env_code"]["version"] == "0.1.0"
    assert card["env_code"]["source_sha256"]  # an editable install: its content identifies it
    module = source / "src" / "bestiary_plugin_example" / "extra_compute.py"
    module.write_text(module.read_text().replace("np.where(extra, 1.0, 0.5)", "np.where(extra, 1.0, 0.6)"))
    dry = subprocess.run(
        [*BESTIARY, "sweep", str(spec), "--runs", str(runs), "--dry-run", "--json"], capture_output=True, text=True
    )
    assert dry.returncode == 0, dry.stderr
    states = {s for g in json.loads(dry.stdout)["groups"] for s in g["states"]}
    assert states == {"pending"}  # the changed plugin is new code: nothing of the old one counts as done


def test_json_output_of_listing_commands(workdir: Path) -> None:
    runner = CliRunner()
    envs = runner.invoke(app, ["envs", "list", "--json"])
    listed = {e["env_id"]: e for e in json.loads(envs.output)}
    assert envs.exit_code == 0 and listed["bestiary/OffSwitch-v0"]["mechanism"] == "band_reader"
    assert listed["bestiary/BeliefManipulation-v0"]["mechanism"] == "belief_tracking"
    spec = workdir / "tiny.yaml"
    spec.write_text(TINY.format(name="dry", env="bestiary/OffSwitch-v0"))
    dry = runner.invoke(app, ["sweep", str(spec), "--runs", str(workdir / "runs"), "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.output)
    assert plan["estimated_minutes"] > 0 and {g["width"] for g in plan["groups"]} == {3, 4}


def test_tables_are_full_width_when_piped() -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    out = subprocess.run([*BESTIARY, "envs", "list"], capture_output=True, text=True, env=env, check=True)
    assert "bestiary/AbsentSupervisorNullCue-v0" in out.stdout and "…" not in out.stdout


def test_a_piped_sweep_prints_a_line_per_finished_trial(workdir: Path) -> None:
    spec = workdir / "tiny.yaml"
    spec.write_text(TINY.format(name="lines", env="bestiary/OffSwitch-v0").replace("seeds: 2", "seeds: 1"))
    out = subprocess.run(
        [*BESTIARY, "sweep", str(spec), "--runs", str(workdir / "runs")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(re.findall(r"^done OffSwitch-w\d+d2-s0-\w+", out.stdout, re.M)) == 2, out.stdout


def test_report_of_a_runs_directory_goes_into_it_and_uses_the_latent_probe(workdir: Path) -> None:
    spec = workdir / "tiny.yaml"
    spec.write_text(TINY.format(name="rep", env="bestiary/OffSwitch-v0").replace("[3, 4]", "[2, 3, 4]"))
    runner = CliRunner()
    assert runner.invoke(app, ["sweep", str(spec), "--runs", str(workdir / "runs")]).exit_code == 0
    cwd = Path.cwd()
    result = runner.invoke(app, ["report", str(workdir / "runs" / "rep"), "--n-boot", "0"])
    assert result.exit_code == 0, result.output
    assert (workdir / "runs" / "rep" / "report.html").is_file() and not (cwd / "report.html").exists()
    assert "latent_probe_accuracy" in (workdir / "runs" / "rep" / "summary.md").read_text()


def test_sandbox_run_leaves_no_temporary_directory() -> None:
    before = {p.name for p in Path("/tmp").glob("bestiary-run-*")}
    result = CliRunner().invoke(app, ["sandbox", "run", "--", sys.executable, "-c", "open('x', 'w').write('1')"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in Path("/tmp").glob("bestiary-run-*")} == before


def test_train_writes_tensorboard_events(workdir: Path) -> None:
    pytest.importorskip("tensorboard")
    tb = workdir / "tb"
    args = ["train", "bestiary/OffSwitch-v0", "--width", "3", "--timesteps", "4096", "--out", str(workdir / "run")]
    result = CliRunner().invoke(app, [*args, "--tensorboard", str(tb)])
    assert result.exit_code == 0, result.output
    events = list(tb.rglob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0


def test_docs_reference_only_files_in_the_project() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for page in pages:
        text = page.read_text()
        assert "SCIENCE.md" not in text and "ARCHITECTURE.md" not in text, page
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if target.startswith(("http://", "https://", "data:", "mailto:")):
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to a missing {target}"


def test_the_sweep_spec_reference_is_current() -> None:
    from bestiary.spec_reference import reference_markdown

    assert (ROOT / "docs" / "sweep-spec.md").read_text() == reference_markdown(), (
        "docs/sweep-spec.md is stale: python scripts/write_docs.py"
    )


def test_the_environment_catalogue_is_current() -> None:
    from bestiary.env_reference import environments_markdown

    assert (ROOT / "docs" / "environments.md").read_text() == environments_markdown(), (
        "docs/environments.md is stale: python scripts/write_docs.py"
    )


def test_collect_reads_only_planned_trials(workdir: Path) -> None:
    spec = workdir / "tiny.yaml"
    spec.write_text(TINY.format(name="planned", env="bestiary/OffSwitch-v0").replace("seeds: 2", "seeds: 1"))
    CliRunner().invoke(app, ["sweep", str(spec), "--runs", str(workdir / "runs")])
    root = workdir / "runs" / "planned"
    real = next(d for d in root.iterdir() if (d / "trial.json").exists())
    shutil.copytree(real, root / "0fake")  # a copy that no plan lists
    df = collect(root)
    assert df.trial_id.nunique() == 2 and "0fake" not in set(df.trial_id)
