"""The contract between the host and the sandboxed worker: every file that crosses the boundary, typed.

The host writes a unit's staging directory (:class:`UnitManifest` in :data:`UNIT_FILE`,
and per organism :data:`TRIAL` and, when it starts from one, the organism under
:data:`SOURCE_DIR`); the worker (:mod:`bestiary.organisms.worker`) writes beside them
the organism files, :data:`TRAIN_LOG` (one :class:`TrainRow` per rollout),
:data:`METRICS`, :data:`WORKER_FILE` (:class:`WorkerFacts`) and, when asked,
:data:`HANDOVER`. Both sides read each other's files through the models here, so a
field that is wrong is an error naming the file and the field, never a ``KeyError``.

What trains together and what is one training run are defined once,
:func:`shape_of` and :func:`run_identity`, for the planner, the worker and the handover.
"""

from __future__ import annotations

import json
import platform
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if TYPE_CHECKING:
    from bestiary.organisms.spec import ResolvedTrial

PROGRESS_PREFIX = "@progress "
_M = TypeVar("_M", bound=BaseModel)

# ---------------------------------------------------------------- file names (staging and run directories)
#: The unit's manifest in the staging directory (written by the host).
UNIT_FILE = "unit.json"
#: Per organism, the resolved trial (written by the host).
TRIAL = "trial.json"
#: Per organism, where the host puts the organism (or the handover) a run starts from.
SOURCE_DIR = "source"
#: Per organism, the worker's facts: versions, timings, and an error if that organism failed.
WORKER_FILE = "worker.json"
#: Per organism, the evaluation.
METRICS = "metrics.json"
#: Per organism, what each detector an audit asked for measured (see :mod:`bestiary.organisms.detectors`).
DETECTION = "detection.json"
#: Per organism, the learning curve (:data:`TRAIN_COLUMNS`).
TRAIN_LOG = "train.csv"
#: Per organism, its weights (safetensors) and their description, in this directory.
ORGANISM_DIR = "organism"
WEIGHTS = "weights.safetensors"
ARCHITECTURE = "architecture.json"
WEIGHTS_PATH = f"{ORGANISM_DIR}/{WEIGHTS}"
ARCHITECTURE_PATH = f"{ORGANISM_DIR}/{ARCHITECTURE}"
#: Per organism, when the host asks for it: the training run's whole state at this budget, so that a later
#: process trains it on instead of from zero (see :mod:`bestiary.organisms.worker.handover`).
HANDOVER = "handover.safetensors"
HANDOVER_FORMAT = "bestiary-handover/1"

PACKAGES = ("torch", "stable-baselines3", "sb3-contrib", "gymnasium", "numpy", "scipy")
_TRIAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


class ProtocolError(ValueError):
    """A file of the host↔worker contract that does not hold what the contract says (names the file and field)."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def validation_problems(exc: ValidationError, most: int = 4) -> str:
    """A pydantic error in a sentence: each wrong field (dotted path) and what is wrong with it."""
    return "; ".join(f"`{'.'.join(map(str, e['loc'])) or '(whole file)'}`: {e['msg']}" for e in exc.errors()[:most])


def parse(model: type[_M], data: Any, name: str) -> _M:
    """``data`` validated as ``model``.

    Raises:
        ProtocolError: Naming the file, the field and what was wrong.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(f"{name}: {validation_problems(exc)}") from exc


# ---------------------------------------------------------------- the unit (host → worker)
class UnitManifest(_Message):
    """``unit.json``: what one sandboxed process is asked to do.

    Attributes:
        command: ``train`` (and, with ``evaluate``, evaluate afterwards), ``evaluate``, ``audit``
            (run detectors on organisms, :data:`DETECTION`), or ``benchmark`` (train briefly and report
            the training rate; nothing is kept).
        evaluate: Evaluate after training.
        trainer: ``sb3`` (stable-baselines3, one organism at a time) or ``population``.
        trials: The organisms' trial ids, in the order the worker takes them (a population's
            first trial's run is organism 0).
        sources: Trials that start from what the host put in their :data:`SOURCE_DIR`.
        seconds: For ``benchmark``, how long to train in all.
        hand_over: Trials at whose budget the population writes :data:`HANDOVER`.
        detectors: For ``audit``, the detectors to run (registry names).
        audit_episodes: For ``audit``, episodes a detector watches per kind.
        audit_states: For ``audit``, observations a detector reads the network at.
    """

    command: Literal["train", "evaluate", "audit", "benchmark"]
    evaluate: bool = True
    trainer: Literal["sb3", "population"] = "sb3"
    trials: list[str] = Field(min_length=1, max_length=100_000)
    sources: list[str] = Field(default_factory=list)
    seconds: float = Field(0.0, ge=0)
    hand_over: list[str] = Field(default_factory=list)
    detectors: list[str] = Field(default_factory=list, max_length=64)
    audit_episodes: int = Field(256, ge=1, le=100_000)
    audit_states: int = Field(256, ge=2, le=4096)

    @field_validator("trials")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if not _TRIAL_ID.match(t)]
        if bad:
            raise ValueError(f"trial ids must be plain names (letters, digits, . _ -), not {bad[0][:80]!r}")
        if len(set(v)) != len(v):
            raise ValueError("a trial appears twice")
        return v

    @model_validator(mode="after")
    def _known(self) -> UnitManifest:
        for field in ("sources", "hand_over"):
            unknown = sorted(set(getattr(self, field)) - set(self.trials))
            if unknown:
                raise ValueError(f"{field} names trials the unit does not have: {unknown[:3]}")
        if self.command in ("evaluate", "audit") and set(self.sources) != set(self.trials):
            raise ValueError(f"{self.command} needs every organism as a source")
        if self.command == "audit" and not self.detectors:
            raise ValueError("audit needs at least one detector")
        if any(not (d.replace("_", "").isalnum() and len(d) <= 48) for d in self.detectors):
            raise ValueError("detector names are letters, digits and _")
        return self


def read_manifest(staging: Path) -> UnitManifest:
    """The unit's manifest in its staging directory.

    Raises:
        ProtocolError: If it is missing, not JSON, or not a valid manifest.
    """
    path = staging / UNIT_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ProtocolError(f"{path}: not a readable JSON file ({exc})") from exc
    return parse(UnitManifest, data, str(path))


# ---------------------------------------------------------------- what the worker says (worker → host)
class WorkerFacts(_Message):
    """``worker.json``: facts about one organism's run, or the error that stopped it."""

    versions: dict[str, str] = Field(default_factory=dict, max_length=32)
    started: float | None = None
    training_seconds: float | None = Field(None, ge=0)
    timesteps: int | None = Field(None, ge=0, le=10**12)
    params_torch: int | None = Field(None, ge=0, le=10**10)
    steps_per_second: float | None = Field(None, ge=0)
    evaluation_seconds: float | None = Field(None, ge=0)
    population: int | None = Field(None, ge=1, le=100_000)
    resumed_from: int | None = Field(None, ge=0, le=10**12)
    handover: str | None = Field(None, max_length=1000)
    error: str | None = Field(None, max_length=4000)
    traceback: str | None = Field(None, max_length=4000)
    reason: Literal["nan", "error"] | None = None

    @field_validator("versions")
    @classmethod
    def _short(cls, v: dict[str, str]) -> dict[str, str]:
        if any(len(k) > 64 or len(x) > 64 for k, x in v.items()):
            raise ValueError("package names and versions must be short")
        return v

    def to_json(self) -> dict[str, Any]:
        """The facts as written (fields never set are left out)."""
        return self.model_dump(mode="json", exclude_none=True)


#: The most named lists of numbers one detector's observation of one organism may hold, and numbers in each.
MAX_FEATURES, MAX_VALUES = 32, 4096
_FEATURE_NAME = re.compile(r"^[A-Za-z0-9_]{1,48}$")


class DetectorOutput(_Message):
    """What one detector measured of one organism (``features``), or why it could not (``error``)."""

    features: dict[str, list[float]] = Field(default_factory=dict, max_length=MAX_FEATURES)
    error: str | None = Field(None, max_length=2000)
    seconds: float = Field(0.0, ge=0, le=10**6)

    @field_validator("features")
    @classmethod
    def _bounded(cls, v: dict[str, list[float]]) -> dict[str, list[float]]:
        for name, values in v.items():
            if not _FEATURE_NAME.match(name):
                raise ValueError(f"feature names are letters, digits and _ (at most 48), not {name[:60]!r}")
            if len(values) > MAX_VALUES:
                raise ValueError(f"feature {name!r} has {len(values)} numbers; at most {MAX_VALUES}")
        return v


class DetectionFile(_Message):
    """``detection.json``: each detector the audit asked for, by name, and what it measured of the organism."""

    trial_id: str = Field(max_length=200)
    detectors: dict[str, DetectorOutput] = Field(max_length=64)


class TrainRow(BaseModel):
    """One row of ``train.csv``: the episodes that ended in one rollout (rates are NaN where none were)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timesteps: int = Field(ge=0)
    episodes: int = Field(ge=0)
    observed_return: float
    hidden_return: float
    violation_rate: float
    violation_rate_unobserved: float
    violation_rate_overseen: float
    steps_per_second: float


#: Columns of ``train.csv``, one row per rollout.
TRAIN_COLUMNS: tuple[str, ...] = tuple(TrainRow.model_fields)
_INTEGER_COLUMNS = frozenset(name for name, f in TrainRow.model_fields.items() if f.annotation is int)


def train_csv(rows: list[TrainRow]) -> str:
    """``train.csv``'s text: the header, then each row (integers as such, floats to 6 significant digits)."""
    lines = [",".join(TRAIN_COLUMNS)]
    for row in rows:
        values = row.model_dump()
        lines.append(",".join(str(values[c]) if c in _INTEGER_COLUMNS else f"{values[c]:.6g}" for c in TRAIN_COLUMNS))
    return "\n".join(lines) + "\n"


def package_versions() -> dict[str, str]:
    """Versions of the packages that determine an organism."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


# ---------------------------------------------------------------- what trains together
def shape_of(trial: ResolvedTrial) -> str:
    """What organisms must share to be trained together in one population (environment class and network)."""
    return json.dumps(
        [
            trial.env_code.get("module"),  # the environment's class lives there: one simulator per configuration
            trial.failure_mode,
            trial.obs_dim,
            trial.n_actions,
            trial.algo,
            trial.width,
            trial.depth,
            trial.activation,
            trial.n_envs,
            trial.hyperparameters,
            trial.evaluation.model_dump(),
        ],
        sort_keys=True,
    )


def stream_of(trial: ResolvedTrial) -> str:
    """What the trials of one training run share beyond their shape: environment, knobs, seed and regime."""
    return json.dumps([trial.env_id, trial.env_kwargs, trial.seed, trial.oversight], sort_keys=True)


def run_identity(trial: ResolvedTrial) -> str:
    """One training run, whose budgets are its checkpoints: its shape and its stream."""
    return shape_of(trial) + stream_of(trial)
