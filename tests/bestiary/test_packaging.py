"""Both a wheel and the editable install put every folder under the one ``bestiary`` namespace."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"bestiary": "bestiary", "envs": "bestiary.envs", "organisms": "bestiary.organisms",
           "sandbox": "bestiary.sandbox", "analysis": "bestiary.analysis"}  # fmt: skip
#: Every package of the source tree, subpackages included, by its import name.
SUBPACKAGES = tuple(
    sorted(
        ".".join([name, *init.parent.relative_to(ROOT / folder).parts])
        for folder, name in FOLDERS.items()
        for init in (ROOT / folder).rglob("__init__.py")
        if "__pycache__" not in init.parts
    )
)


def _source_folder(package: str) -> Path:
    """Where the editable install keeps a package: ``bestiary.X.Y`` in ``X/Y`` (X a mapped folder), else bestiary/."""
    parts = package.split(".")[1:]
    if parts and parts[0] in FOLDERS:
        return ROOT.joinpath(*parts)
    return ROOT.joinpath("bestiary", *parts)


@pytest.fixture(scope="module")
def wheel(bestiary_wheel: Path) -> Path:
    return bestiary_wheel


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
        "import bestiary.envs, bestiary.cli, bestiary.organisms.worker.loop, bestiary.executors; "
        "print(bestiary.envs.__file__); print(len(bestiary.envs.failure_mode_ids())); "
        "print(bestiary.cli.__file__); print(bestiary.organisms.worker.loop.__file__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    )
    path, count, cli, worker = out.stdout.split()
    assert all(Path(p).is_relative_to(target) for p in (path, cli, worker)), out.stdout  # not the editable finder's
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
    expected = [_source_folder(p) for p in SUBPACKAGES]
    assert [f.parent for f in files] == expected
