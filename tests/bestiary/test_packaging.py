"""Both a wheel and the editable install put every folder under the one ``bestiary`` namespace."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBPACKAGES = ("bestiary", "bestiary.envs", "bestiary.organisms", "bestiary.sandbox", "bestiary.analysis")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (whl,) = out.glob("bestiary-*.whl")
    return whl


def test_wheel_maps_folders_under_bestiary(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for pkg in SUBPACKAGES:
        assert pkg.replace(".", "/") + "/__init__.py" in names
    assert "bestiary/envs/absent_supervisor.py" in names
    assert "bestiary/py.typed" in names
    top = {n.split("/")[0] for n in names if not n.startswith("bestiary-")}
    assert top == {"bestiary"}, f"the wheel pollutes site-packages with {top - {'bestiary'}}"


def test_wheel_imports_from_its_install(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    code = (
        "import bestiary.envs, bestiary.cli; "
        "print(bestiary.envs.__file__); print(len(bestiary.envs.failure_mode_ids()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    )
    path, count = out.stdout.split()
    assert Path(path).is_relative_to(target)
    assert int(count) >= 9


def test_editable_install_points_at_the_source_folders(tmp_path: Path) -> None:
    import bestiary

    if not Path(bestiary.__file__).is_relative_to(ROOT):
        pytest.skip("bestiary is not installed in editable mode from this checkout")
    code = (
        "; ".join(f"import {p}" for p in SUBPACKAGES)
        + "; "
        + "print("
        + ", ".join(f"{p}.__file__" for p in SUBPACKAGES)
        + ", sep='\\n')"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    files = [Path(p) for p in out.stdout.split()]
    folders = ["bestiary", "envs", "organisms", "sandbox", "analysis"]
    assert [f.parent for f in files] == [ROOT / d for d in folders]
