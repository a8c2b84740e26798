"""Errors raised by ``bestiary.envs``.

They live here, not in ``bestiary.errors``, because ``bestiary.envs`` imports nothing
else of Bestiary's; ``bestiary.errors`` re-exports them.
"""

from __future__ import annotations

import gymnasium


class EnvError(gymnasium.error.Error, ValueError):
    """Base class of every error ``bestiary.envs`` raises on bad input."""


class UnknownEnvironmentError(EnvError):
    """An environment id that is not registered (after loading plugins)."""


class KnobError(EnvError):
    """A capability or payoff knob set to a value outside its declared range."""


class EnvDefinitionError(EnvError):
    """An environment class that does not declare what Contract 1 requires."""
