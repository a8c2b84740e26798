"""Loading plugins' entry points: one group at a time, once, a broken plugin never hiding the others.

Third-party packages extend Bestiary through entry-point groups (in their ``pyproject.toml``):

- ``bestiary.envs``: a module or callable that registers environments (:mod:`bestiary.envs.registry`);
- ``bestiary.cues``: ``<kind> = "module:CueClass"``, a new cue kind (:mod:`bestiary.envs.cues`);
- ``bestiary.mechanisms``: ``<mechanism> = "module:function"``, a mechanism's scripted policy
  (:mod:`bestiary.envs.mechanisms`).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Container
from typing import Any

_loaded: dict[str, dict[str, Any]] = {}
_errors: dict[str, dict[str, str]] = {}


def load_group(group: str, force: bool = False) -> dict[str, Any]:
    """The loaded object of every entry point of ``group`` by name (each loaded once; failures kept apart).

    Args:
        group: The entry-point group.
        force: Load again even if loaded before.
    """
    if group in _loaded and not force:
        return dict(_loaded[group])
    found: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for ep in importlib.metadata.entry_points(group=group):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a broken plugin must not hide the others
            errors[ep.name] = f"{type(exc).__name__}: {exc}"
    _loaded[group], _errors[group] = found, errors
    return dict(found)


def register_group(group: str, register: Callable[[str, Any], None], known: Container[str]) -> None:
    """Register every loaded entry point of ``group`` not ``known`` yet with ``register(name, object)``.

    A plugin whose object ``register`` refuses (``ValueError``) is kept with the group's errors, so a
    lookup that misses can say why, like one that failed to load.
    """
    for name, obj in load_group(group).items():
        if name in known:
            continue
        try:
            register(name, obj)
        except ValueError as exc:
            _errors.setdefault(group, {})[name] = f"refused: {exc}"


def group_errors(group: str) -> dict[str, str]:
    """The plugins of ``group`` that failed to load, with their errors."""
    return dict(_errors.get(group, {}))
