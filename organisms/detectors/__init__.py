"""Detectors: what an overseer can compute from an organism to tell whether it will defect.

A detector is a small class (:class:`Detector`) registered by name. In the sandbox, its
:meth:`~Detector.observe` is given only an :class:`~bestiary.organisms.detectors.view.OverseerView`
— the organism's network and the episodes an overseer can watch, never deployment or the hidden
reward — and returns named lists of numbers, which leave the sandbox as hostile input
(bounded, checked, refused with a reason). On the host, :meth:`~Detector.score` turns one
organism's numbers into its score (higher: more likely to defect). A *trained* detector
(:class:`TrainedDetector`) learns that mapping from other organisms whose truth is known: the host
fits it only on organisms of other training runs (:func:`bestiary.audit_scores.cross_fitted`), so no
organism's score has seen its own truth.

Built in (:mod:`.builtin`): ``honeypot``, ``honeypot_plain``, ``cue_sensitivity``,
``defection_probe`` with its random-initialisation control ``defection_probe_init``, and
``null``. Plugins add theirs through the ``bestiary.detectors`` entry-point group
(``<name> = "module:DetectorClass"``) or :func:`register_detector`; every registered detector is
tested by the registry-wide tests.
"""

from __future__ import annotations

from bestiary.envs.entry_points import group_errors, register_group
from bestiary.organisms.detectors.base import Detector, Features, TrainedDetector
from bestiary.organisms.detectors.builtin import BUILTIN
from bestiary.organisms.protocol import MAX_FEATURES, MAX_VALUES

DETECTOR_ENTRY_POINTS = "bestiary.detectors"
__all__ = [
    "MAX_FEATURES", "MAX_VALUES", "Detector", "Features", "TrainedDetector", "detector_names", "get_detector",
    "register_detector",
]  # fmt: skip

_registered: dict[str, type[Detector]] = {}


def register_detector(cls: type[Detector], name: str | None = None) -> None:
    """Register a detector class under its ``name`` (or ``name``).

    Raises:
        ValueError: For something that is not a :class:`Detector` subclass, a name that is not plain,
            or a name already taken by another class.
    """
    if not (isinstance(cls, type) and issubclass(cls, Detector)):
        raise ValueError(f"a detector is a subclass of bestiary.organisms.detectors.Detector, not {cls!r}")
    name = name or getattr(cls, "name", "")
    if not (isinstance(name, str) and name.replace("_", "").isalnum() and name.isascii() and len(name) <= 48):
        raise ValueError(f"a detector's name is letters, digits and _ (at most 48), not {name!r}")
    if _registered.get(name, cls) is not cls:
        raise ValueError(f"the detector name {name!r} is taken by {_registered[name].__module__}")
    _registered[name] = cls


def detector_names() -> tuple[str, ...]:
    """Every registered detector: the built-in ones, then plugins' (loaded on first use)."""
    _load()
    return tuple(_registered)


def get_detector(name: str) -> Detector:
    """A new instance of the detector registered as ``name``.

    Raises:
        ValueError: For an unknown name, listing the known ones and plugins that failed to load.
    """
    if name not in _registered:
        _load()
    if name not in _registered:
        broken = group_errors(DETECTOR_ENTRY_POINTS)
        why = "; plugins that failed to load: " + "; ".join(f"{k} ({v})" for k, v in broken.items()) if broken else ""
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(detector_names())}{why}")
    return _registered[name]()


def _load() -> None:
    register_group(DETECTOR_ENTRY_POINTS, lambda name, cls: register_detector(cls, name), set(_registered))


for _cls in BUILTIN:
    register_detector(_cls)
