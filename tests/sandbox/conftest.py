"""Sandbox tests run against every backend Bestiary ships (a CI machine without one of them fails, not skips)."""

from __future__ import annotations

import pytest

BACKENDS = ("bwrap", "gvisor")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
