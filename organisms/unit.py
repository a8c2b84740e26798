"""What one sandboxed process is asked to do: a :class:`Unit` of organisms (:class:`Job`), and how it is sandboxed.

A unit is one organism (stable-baselines3) or a population of organisms of one shape;
:mod:`bestiary.organisms.staging` runs it, :mod:`bestiary.organisms.readback` reads back what it made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bestiary.organisms.protocol import UnitManifest
from bestiary.organisms.spec import ResolvedTrial
from bestiary.sandbox import Limits, Policy


@dataclass(frozen=True)
class Job:
    """One organism's part of a unit.

    Attributes:
        trial: The resolved trial.
        source: The organism to start from (continued training) or to evaluate: its
            verified files, relative path → bytes; for the population trainer, the handover
            (:data:`HANDOVER`) of the same training run at a smaller budget, to train on from.
        resumes_at: The timesteps of that handover (0: the run starts from zero).
        handover_of: The trial whose handover the run goes on from (recorded in the organism's card), with
            ``handover_sha256``, the handover's hash; with the handover the source holds that trial's
            recorded organism, which the sandbox checks the handed-over weights against.
    """

    trial: ResolvedTrial
    source: dict[str, bytes] | None = None
    resumes_at: int = 0
    handover_of: str | None = None
    handover_sha256: str | None = None


@dataclass(frozen=True)
class SandboxOptions:
    """How units are sandboxed: the backend, the policy, and the explicit opt-out."""

    backend: str = "bwrap"
    limits: Limits = field(default_factory=Limits)
    unsandboxed: bool = False
    hide: tuple[str, ...] = ()

    def policy(self) -> Policy:
        """The policy of one unit."""
        return Policy(limits=self.limits, hide=self.hide)


@dataclass(frozen=True)
class Unit:
    """What one sandboxed process does.

    Attributes:
        command: ``train`` (and, with ``evaluate``, evaluate afterwards), ``evaluate``, or
            ``benchmark`` (train briefly and report the training rate; nothing is kept).
        jobs: The organisms, all of one architecture for a population.
        evaluate: Evaluate after training.
        trainer: ``sb3`` (one organism at a time, stable-baselines3) or ``population``.
        seconds: For ``benchmark``, how long to train in all.
        hand_over: Trials at whose budget the population writes the training run's whole state
            (:data:`HANDOVER`), because a later unit trains the run on from there.
        detectors: For ``audit``, the detectors to run; ``audit_episodes`` and ``audit_states`` their sizes.
    """

    command: str
    jobs: tuple[Job, ...]
    evaluate: bool = True
    trainer: str = "sb3"
    seconds: float = 0.0
    hand_over: frozenset[str] = frozenset()
    detectors: tuple[str, ...] = ()
    audit_episodes: int = 256
    audit_states: int = 256

    @property
    def trial_ids(self) -> list[str]:
        """The ids of the unit's trials."""
        return [j.trial.trial_id for j in self.jobs]

    def manifest(self) -> UnitManifest:
        """``unit.json``: what the worker is asked to do."""
        return UnitManifest(
            command=self.command,  # the model checks it is one the worker knows
            evaluate=self.evaluate,
            trainer=self.trainer,
            trials=self.trial_ids,
            sources=[j.trial.trial_id for j in self.jobs if j.source],
            seconds=self.seconds,
            hand_over=sorted(self.hand_over & set(self.trial_ids)),
            detectors=list(self.detectors),
            audit_episodes=self.audit_episodes,
            audit_states=self.audit_states,
        )
