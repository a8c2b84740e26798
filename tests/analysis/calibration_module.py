"""The calibration benchmark (benchmarks/calibration.py) as a module, for tests that reuse its scenarios."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


@cache
def calibration() -> ModuleType:
    """benchmarks/calibration.py, loaded once (it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("calibration", ROOT / "benchmarks" / "calibration.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["calibration"] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module
