"""The backend registry (entry points too), and cleaning up after a launcher killed with SIGKILL."""

from __future__ import annotations

import importlib.metadata
import os
import sys
import time
import types
from pathlib import Path

import pytest

from bestiary.sandbox import base
from bestiary.sandbox.base import Launch, SandboxBackend, backend_names, get_backend
from bestiary.sandbox.cgroups import remove_stale
from bestiary.sandbox.result import SandboxResult


class EchoBackend(SandboxBackend):
    """A third party's backend: it only says what it would run."""

    name = "echo-test"
    provides = frozenset()

    def run(self, launch: Launch) -> SandboxResult:
        return SandboxResult(list(launch.command), self.name, 0, "ok", 0.0, 0.0, None, b"", b"", 0, 0, {})


def test_a_backend_registers_through_an_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("bestiary_test_backend_plugin")
    module.EchoBackend = EchoBackend  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    ep = importlib.metadata.EntryPoint("echo", f"{module.__name__}:EchoBackend", base.ENTRY_POINT_GROUP)
    monkeypatch.setattr(
        base.importlib.metadata, "entry_points", lambda group: [ep] if group == base.ENTRY_POINT_GROUP else []
    )
    monkeypatch.setattr(base, "_plugins_loaded", False)
    monkeypatch.delitem(base.BACKENDS, "echo-test", raising=False)
    assert "echo-test" in backend_names()
    result = get_backend("echo-test").run_command(["true"], "/tmp/unused")
    assert result.backend == "echo-test" and result.command == ["true"]
    base.BACKENDS.pop("echo-test")


def test_an_unknown_backend_names_the_available_ones() -> None:
    with pytest.raises(ValueError, match=r"available: .*bwrap"):
        get_backend("firecracker-nope")


def test_cgroups_left_by_a_killed_launcher_are_removed(tmp_path: Path) -> None:
    old = tmp_path / "memory" / "bestiary" / "run-old"
    young = tmp_path / "memory" / "bestiary" / "run-young"
    busy = tmp_path / "pids" / "bestiary" / "run-busy"
    for d in (old, young, busy):
        d.mkdir(parents=True)
    (busy / "cgroup.procs").write_text("1234\n")
    past = time.time() - 600
    for d in (old, busy):
        os.utime(d, (past, past))
    assert remove_stale(tmp_path) == 1
    assert not old.exists() and young.exists() and busy.exists()
