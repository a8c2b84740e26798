"""Bestiary: model organisms of dangerous capabilities, trained across a scale ladder.

Subpackages: :mod:`bestiary.envs` (failure-mode environments), ``bestiary.organisms``,
``bestiary.sandbox`` and ``bestiary.analysis``. Importing ``bestiary`` itself is cheap.
"""

__version__ = "0.1.0"
