"""Shared test setup.

- Every test that takes ``env_id`` is parametrized over the environment registry, so a
  newly registered failure-mode environment (Bestiary's or an installed plugin's) is
  checked by every such test without touching the tests.
- ``workdir`` is a run directory the sandbox's unprivileged uid can reach. Tests that use
  it run for real in the sandbox (bubblewrap, user namespaces, cgroups as root); they are
  not skipped when it is unavailable — a CI machine that cannot sandbox must fail. Set
  ``BESTIARY_SKIP_SANDBOX_TESTS=1`` to skip them on a machine that cannot.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import bestiary.envs as E


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "env_id" in metafunc.fixturenames:
        metafunc.parametrize("env_id", E.failure_mode_ids())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("BESTIARY_SKIP_SANDBOX_TESTS") == "1":
        skip = pytest.mark.skip(reason="BESTIARY_SKIP_SANDBOX_TESTS=1")
        for item in items:
            if "workdir" in getattr(item, "fixturenames", ()):
                item.add_marker(skip)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    # tmp_path's parents are 0700 root-owned; the sandbox uid must reach its run directory.
    base = Path("/tmp") / f"bestiary-test-{os.getpid()}"
    base.mkdir(mode=0o755, exist_ok=True)
    os.chmod(base, 0o755)
    d = base / tmp_path.name
    d.mkdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def bestiary_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of Bestiary built from a clean copy of the checkout (a stale ``build/`` folder must not leak in)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    source = tmp_path_factory.mktemp("source") / "bestiary"
    shutil.copytree(
        root,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", "runs", "docs"),
    )
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out),
         str(source)],
        check=True, capture_output=True, cwd=out,
    )  # fmt: skip
    (whl,) = out.glob("bestiary-*.whl")
    return whl
