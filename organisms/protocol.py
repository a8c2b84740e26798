"""What the host and the sandboxed worker share: the progress-line prefix and the provenance facts."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

PROGRESS_PREFIX = "@progress "
PACKAGES = ("torch", "stable-baselines3", "sb3-contrib", "gymnasium", "numpy", "scipy")


def package_versions() -> dict[str, str]:
    """Versions of the packages that determine an organism."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
