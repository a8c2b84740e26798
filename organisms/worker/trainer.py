"""What a trainer is to the worker's loop (:mod:`.loop`): the :class:`Trainer` protocol and what it hands back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bestiary.organisms.protocol import PROGRESS_PREFIX, TRIAL, TrainRow, UnitManifest
from bestiary.organisms.spec import ResolvedTrial

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

#: Receives a progress dict (the loop adds nothing; trainers add the trial id).
Report = Callable[[dict[str, Any]], None]


def report(progress: dict[str, Any]) -> None:
    """Send a progress line to the host."""
    print(PROGRESS_PREFIX + json.dumps(progress), flush=True)


def staged_trial(staging: Path, tid: str) -> ResolvedTrial:
    """The resolved trial the host staged for ``tid``."""
    return ResolvedTrial.model_validate(json.loads((staging / tid / TRIAL).read_text()))


@dataclass
class Trained:
    """One organism as its trainer leaves it.

    Attributes:
        trial: Its trial.
        state: Its policy's tensors under stable-baselines3's names (None: loaded to be evaluated, not trained).
        rows: Its learning curve.
        facts: Training facts for ``worker.json`` (:class:`WorkerFacts` fields).
        model: Builds the model to evaluate (holding ``state``).
        handover: Makes the training run's whole state at this budget (population trainer only).
        finite: False if a parameter became non-finite during training (recorded as ``nan``).
    """

    trial: ResolvedTrial
    state: dict[str, Any] | None
    rows: list[TrainRow]
    facts: dict[str, Any]
    model: Callable[[], BaseAlgorithm]
    handover: Callable[[], bytes] | None = None
    finite: bool = True


class Trainer(Protocol):
    """What trains a unit's organisms (:class:`~.sb3.Sb3Trainer`, :class:`~.population_trainer.PopulationTrainer`).

    Attributes:
        name: The ``trainer`` value of a unit manifest that selects it.
        announces: Whether each organism is announced to the host as soon as it is recorded
            (``{"trial": id, "event": "done"}``), so the host can record it before the unit ends.
    """

    name: str
    announces: bool

    def organisms(
        self, unit: UnitManifest, staging: Path, report: Report
    ) -> Iterator[tuple[str, Callable[[], Trained]]]:
        """Per organism, as it is ready: its trial id and a call that returns it trained (or raises why not)."""
        ...
