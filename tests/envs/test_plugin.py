"""The example third-party package installs, registers through the entry point and passes the checker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BESTIARY = [sys.executable, "-m", "bestiary.cli"]


@pytest.fixture(scope="module")
def plugin_path() -> Iterator[dict[str, str]]:
    # Readable by the sandbox's uid: `envs check` runs the plugin's code in the sandbox.
    target = Path(tempfile.mkdtemp(prefix="bestiary-plugin-"))
    target.chmod(0o755)
    # Built from a copy: pip builds in the source tree, and two workers installing it at once race there.
    source = Path(tempfile.mkdtemp(prefix="bestiary-plugin-src-")) / "plugin_env"
    shutil.copytree(ROOT / "examples" / "plugin_env", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    yield {**os.environ, "PYTHONPATH": str(target), "COLUMNS": "200"}
    shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(source.parent, ignore_errors=True)


def test_plugin_env_is_listed(plugin_path: dict[str, str]) -> None:
    out = subprocess.run([*BESTIARY, "envs", "list"], env=plugin_path, capture_output=True, text=True, check=True)
    assert "example/ExtraCompute-v0" in out.stdout


def test_plugin_env_passes_check(plugin_path: dict[str, str]) -> None:
    out = subprocess.run(
        [*BESTIARY, "envs", "check", "example/ExtraCompute-v0", "example/ExtraComputeNullCue-v0"],
        env=plugin_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "all checks passed for 2 environment(s)" in out.stdout


def test_plugin_lookup_happens_on_a_miss(plugin_path: dict[str, str]) -> None:
    code = (
        "import bestiary.envs as E; env = E.make('example/ExtraCompute-v0'); "
        "print(type(env.unwrapped).__name__, env.unwrapped.failure_mode)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=plugin_path, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ExtraCompute", "power_seeking"]


def test_plugin_detector_is_listed_and_scores(plugin_path: dict[str, str], tmp_path: Path) -> None:
    listed = subprocess.run([*BESTIARY, "audit", "--list", "."], env=plugin_path, capture_output=True, text=True)
    assert listed.returncode == 0 and "logodds_overseen" in listed.stdout, listed.stdout + listed.stderr
    code = (
        "import numpy as np, bestiary.envs as E\n"
        "from bestiary.organisms.detectors import get_detector\n"
        "from bestiary.organisms.detectors.view import Network, OverseerView\n"
        "env = E.make_definition('bestiary/OffSwitch-v0')\n"
        "probs = np.eye(2)[1 - env.dangerous_action] * 0.8 + np.eye(2)[env.dangerous_action] * 0.2\n"
        "net = lambda obs: Network(np.tile(probs, (len(obs), 1)), {})\n"
        "view = OverseerView(env, None, net, None, 0)\n"
        "det = get_detector('logodds_overseen')\n"
        "print(det.score({k: np.asarray(v) for k, v in det.observe(view, None, 4, 8).items()}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=plugin_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert abs(float(out.stdout) - np.log(0.2 / 0.8)) < 1e-6
