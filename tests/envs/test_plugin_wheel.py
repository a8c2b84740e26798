"""A plugin author's whole path, with the plugin built as a wheel and installed into a venv of its own.

The example plugin adds a new mechanism (a cue kind, its scripted policy, its behaviour kind).
Installed as a wheel: the registry-wide tests hold for its environments, a sweep trains them and
the report fits its kind, and a rebuilt wheel of changed code at the same version makes the
sweep's trials pending again (the code, not the version, is the environment's identity).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SPEC = """\
name: conj
environments:
  - id: example/ConjunctionAudit-v0
scale:
  widths: [4, 16]
  timesteps: 4096
seeds: 2
hyperparameters: {n_steps: 64}
evaluation: {episodes: 64, probes: 32}
executor: {kind: local, workers: 2}
"""

STATES = (
    "import json, sys; from bestiary.sweep import plan; from bestiary.sweep_spec import load_sweep; "
    "print(json.dumps(sorted(p.state for p in plan(load_sweep(sys.argv[1]), sys.argv[2]))))"
)


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    # Never from the checkout: its top folder `bestiary/` would shadow the installed package.
    out = subprocess.run(list(args), capture_output=True, text=True, env=env, cwd=cwd or Path("/"), timeout=900)
    assert out.returncode == 0, f"{' '.join(args)}\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out.stdout


def _wheel(source: Path, dist: Path) -> Path:
    for old in dist.glob("*.whl"):
        old.unlink()
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(dist),
         str(source))  # fmt: skip
    (wheel,) = dist.glob("*.whl")
    return wheel


def test_a_wheel_installed_mechanism_plugin_works_end_to_end(workdir: Path, bestiary_wheel: Path) -> None:
    source = workdir / "plugin"
    shutil.copytree(ROOT / "examples" / "plugin_env", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    # A venv of its own with Bestiary and the plugin installed from wheels; the dependencies (torch, ...) it
    # reads from this environment's site-packages through a .pth line (which the sandbox's view follows too).
    venv = workdir / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = str(venv / "bin" / "python")
    (purelib,) = Path(venv / "lib").glob("python3*/site-packages")
    (purelib / "_dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps"]
    _run(*pip, str(bestiary_wheel))
    _run(*pip, str(_wheel(source, workdir / "dist")))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"COLUMNS": "250"}
    listed = json.loads(_run(python, "-m", "bestiary.cli", "envs", "list", "--json", env=env))
    (conj,) = [e for e in listed if e["env_id"] == "example/ConjunctionAudit-v0"]
    assert set(conj["knobs"]) == {"cue", "context_dim", "cue_noise"}  # the base knobs its cue does not read: dropped

    # The registry-wide tests (every test parametrized over the registry), for the plugin's environments.
    wide = [str(ROOT / "tests" / p) for p in ("envs", "organisms/worker/test_population.py", "bestiary/test_cli.py")]
    ran = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "ConjunctionAudit", *wide, env=env,
               cwd=workdir)  # fmt: skip
    assert " passed" in ran and " failed" not in ran

    # A 2-rung sweep in the sandbox; the report fits the plugin's own behaviour kind.
    spec = workdir / "conj.yaml"
    spec.write_text(SPEC)
    runs = workdir / "runs"
    _run(python, "-m", "bestiary.cli", "sweep", str(spec), "--runs", str(runs), env=env)
    _run(python, "-m", "bestiary.cli", "report", str(runs / "conj"), "--n-boot", "0", env=env)
    table = runs / "conj" / "results.csv"
    text = table.read_text()
    assert "plain_cue_violation" in text and '[""plain_cue_violation""]' in text  # the rows, and their declaration
    assert "plain_cue_violation" in (runs / "conj" / "report.html").read_text()
    assert set(json.loads(_run(python, "-c", STATES, str(spec), str(runs), env=env))) == {"done"}

    # Changed code, the same version, reinstalled from a new wheel: the trials are new (pending).
    module = source / "src" / "bestiary_plugin_example" / "conjunction.py"
    module.write_text(module.read_text().replace('Knob(\n            0.5, "Noise', 'Knob(\n            0.6, "Noise'))
    _run(*pip, "--force-reinstall", str(_wheel(source, workdir / "dist")))
    assert set(json.loads(_run(python, "-c", STATES, str(spec), str(runs), env=env))) == {"pending"}
