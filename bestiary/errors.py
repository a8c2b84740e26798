"""Typed errors of Bestiary. Each says what was wrong, where, and what would be right."""

from bestiary.envs.errors import EnvDefinitionError, EnvError, KnobError, UnknownEnvironmentError


class BestiaryError(Exception):
    """Base class of errors raised outside :mod:`bestiary.envs`."""


__all__ = ["BestiaryError", "EnvDefinitionError", "EnvError", "KnobError", "UnknownEnvironmentError"]
