"""Plugins' entry points: an object the registry refuses is reported, never silently dropped."""

from __future__ import annotations

import pytest


def test_a_plugin_object_the_registry_refuses_is_reported_not_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    from bestiary.envs import entry_points as EP

    monkeypatch.setitem(EP._loaded, "bestiary.test-group", {"good": 1, "bad": 2, "known": 3})
    monkeypatch.setitem(EP._errors, "bestiary.test-group", {})
    seen: list[str] = []

    def register(name: str, obj: object) -> None:
        if name == "bad":
            raise ValueError("not a Cue subclass")
        seen.append(name)

    EP.register_group("bestiary.test-group", register, {"known"})
    assert seen == ["good"]
    assert EP.group_errors("bestiary.test-group") == {"bad": "refused: not a Cue subclass"}
