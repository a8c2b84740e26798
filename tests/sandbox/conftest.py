"""Sandbox tests run for real: they need bubblewrap, user namespaces and (as root) cgroups.

They are not skipped when the sandbox is unavailable — a CI machine that cannot sandbox
must fail. Set BESTIARY_SKIP_SANDBOX_TESTS=1 to skip them on a machine that cannot.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("BESTIARY_SKIP_SANDBOX_TESTS") == "1":
        skip = pytest.mark.skip(reason="BESTIARY_SKIP_SANDBOX_TESTS=1")
        here = Path(__file__).parent
        for item in items:
            if Path(item.fspath).is_relative_to(here):
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
