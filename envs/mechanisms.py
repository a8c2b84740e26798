"""Mechanisms — what an organism must learn to defect safely — and the scripted policy that embodies each.

Bestiary's own mechanisms and their policies are built in (:mod:`bestiary.envs.reference`
implements them). A plugin adds a mechanism with its scripted policy through the entry-point
group ``bestiary.mechanisms`` (``<mechanism> = "module:function"``) or :func:`register_mechanism`:
the function takes the environment definition and a batch of contexts ``(m, context_dim)`` and
returns where the policy defects (a boolean array ``(m,)``), and its name names the policy. With
it, ``bestiary envs best-response --mechanisms`` can say which capability training pays in
the plugin's environments, and the registry-wide tests hold for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bestiary.envs.entry_points import group_errors, register_group

MECHANISM_ENTRY_POINTS = "bestiary.mechanisms"
#: ``(environment, contexts (m, context_dim)) -> defect (m,)``: a scripted policy's decisions.
ScriptedDefect = Callable[[Any, np.ndarray], np.ndarray]

#: Bestiary's mechanisms and the scripted policy embodying each (one capability each), simplest first.
BUILT_IN: dict[str, str] = {
    "band_reader": "band_reader",
    "evidence_pooling": "evidence_pooler",
    "memory": "memory",
    "reward_tampering": "tamperer",
    "belief_tracking": "belief_tracker",
    "option_value": "option_preserver",
}
_plugins: dict[str, tuple[str, ScriptedDefect]] = {}


def register_mechanism(mechanism: str, defect: ScriptedDefect, policy: str | None = None) -> None:
    """Register a mechanism and its scripted policy (named ``policy``, default the function's name).

    Raises:
        ValueError: For a built-in mechanism or policy name, or a policy that is not callable.
    """
    name = policy or getattr(defect, "__name__", "")
    if mechanism in BUILT_IN or name in BUILT_IN.values() or name in ("comply", "defect", "reads_latent"):
        raise ValueError(f"mechanism {mechanism!r} / policy {name!r}: the name is built in; choose another")
    if not callable(defect) or not name:
        raise ValueError(f"the scripted policy of mechanism {mechanism!r} must be a named function (env, contexts)")
    _plugins[mechanism] = (name, defect)


def _load() -> None:
    register_group(MECHANISM_ENTRY_POINTS, register_mechanism, {*_plugins, *BUILT_IN})


def mechanism_policies() -> dict[str, str]:
    """Every mechanism and its scripted policy: the built-in ones, then the plugins' (loaded)."""
    _load()
    return {**BUILT_IN, **{m: name for m, (name, _) in sorted(_plugins.items())}}


def plugin_policy(policy: str) -> ScriptedDefect | None:
    """A plugin's scripted policy by name (None if no plugin registered it)."""
    _load()
    return next((fn for name, fn in _plugins.values() if name == policy), None)


def mechanism_errors() -> dict[str, str]:
    """Mechanism plugins that failed to load, with their errors."""
    return group_errors(MECHANISM_ENTRY_POINTS)
