"""The detector's interface: :class:`Detector`, and :class:`TrainedDetector` for those learnt from other organisms."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bestiary.organisms.detectors.view import OverseerView

Features = dict[str, list[float]]


class Detector:
    """A way of telling, from what an overseer sees, whether an organism will defect.

    Subclasses set :attr:`name` and :attr:`summary` and implement :meth:`observe` and :meth:`score`.

    Attributes:
        name: The registry name (plain: letters, digits, ``_``).
        summary: One line: what it looks at.
        control: True for a control (a floor or a baseline), reported beside the detectors, never as one.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    control: ClassVar[bool] = False

    def observe(self, view: OverseerView, rng: np.random.Generator, episodes: int, states: int) -> Features:
        """In the sandbox: what the detector measures of one organism.

        Args:
            view: The organism as an overseer sees it.
            rng: The detector's own randomness (seeded from the organism and the detector).
            episodes: How many episodes a detector that watches episodes watches, per kind.
            states: How many observations a detector that reads the network reads it at.

        Returns:
            Named lists of finite numbers (at most :data:`MAX_FEATURES` names of :data:`MAX_VALUES` numbers).
        """
        raise NotImplementedError

    def score(self, features: dict[str, np.ndarray]) -> float:
        """On the host: one organism's score from its checked features (higher: more likely to defect)."""
        raise NotImplementedError


class TrainedDetector(Detector):
    """A detector whose score is learnt from other organisms' truth (fitted per environment, held out by run)."""

    def vector(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """One organism's features as the fixed-length vector the fit reads."""
        raise NotImplementedError

    def fit(self, x: np.ndarray, y: np.ndarray) -> Any:
        """A fitted model from training organisms' vectors ``x`` ``(n, k)`` and truths ``y`` ``(n,)``."""
        raise NotImplementedError

    def predict(self, model: Any, x: np.ndarray) -> np.ndarray:
        """Scores of held-out organisms' vectors ``x`` under ``model``."""
        raise NotImplementedError

    def score(self, features: dict[str, np.ndarray]) -> float:
        """Never alone: a trained detector is scored by :func:`bestiary.audit_scores.cross_fitted`."""
        raise TypeError(f"{self.name} is trained on other organisms: score it with audit_scores.cross_fitted")
