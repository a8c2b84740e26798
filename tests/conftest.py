"""Parametrizes every test that takes ``env_id`` over the environment registry.

A newly registered failure-mode environment (Bestiary's or an installed plugin's) is
therefore checked by every such test without touching the tests.
"""

from __future__ import annotations

import pytest

import bestiary.envs as E


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "env_id" in metafunc.fixturenames:
        metafunc.parametrize("env_id", E.failure_mode_ids())
