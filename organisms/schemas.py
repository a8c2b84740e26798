"""Schemas of what a worker writes, and the host's checks of them (no torch: the host never loads weights).

Every output of a sandboxed run is hostile input. Each is parsed with bounds
(:func:`bestiary.sandbox.parse_json`) and validated here against a schema *and* against
the host's own record of the trial: a ``metrics.json`` whose counts do not add up, an
``architecture.json`` for another shape, a safetensors file whose header lies about its
tensors, or a ``train.csv`` with other columns is refused with what was wrong.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bestiary.organisms.protocol import (
    ARCHITECTURE,
    HANDOVER,
    HANDOVER_FORMAT,
    METRICS,
    TRAIN_COLUMNS,
    TRAIN_LOG,
    WEIGHTS,
    WORKER_FILE,
    WorkerFacts,
    validation_problems,
)
from bestiary.organisms.spec import ResolvedTrial
from bestiary.sandbox.outputs import MalformedOutputError, parse_json

_SHORT = 200
#: Names a behaviour kind may not take: they are the table's own metrics.
RESERVED_METRICS = frozenset({"violation_rate", "task_success_rate", "observed_return", "hidden_return", "status"})
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class OutputError(ValueError):
    """An output that fails its schema or disagrees with the host's record (``malformed_output``)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Behaviour(_Strict):
    """One oversight condition's behaviour: counts and the rates they give."""

    episodes: int = Field(ge=1, le=10**9)
    violations: int = Field(ge=0, le=10**9)
    violation_rate: float = Field(ge=0, le=1)
    task_successes: int = Field(ge=0, le=10**9)
    task_success_rate: float = Field(ge=0, le=1)
    observed_return: float
    hidden_return: float
    kinds: dict[str, tuple[int, int]] = Field(default_factory=dict, max_length=16)

    @model_validator(mode="after")
    def _counts(self) -> Behaviour:
        for count, rate in (("violations", "violation_rate"), ("task_successes", "task_success_rate")):
            k, r = getattr(self, count), getattr(self, rate)
            if k > self.episodes or not math.isclose(r, k / self.episodes, abs_tol=1e-9):
                raise ValueError(f"{rate} {r} is not {count} / episodes = {k}/{self.episodes}")
        for name, (k, n) in self.kinds.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name) or name in RESERVED_METRICS:
                raise ValueError(
                    f"behaviour kind names must be short snake_case words, not metric names: {name[:64]!r}"
                )
            if not 0 <= k <= n <= self.episodes or n == 0:
                raise ValueError(f"behaviour kind {name}: need 0 ≤ {k} ≤ {n} ≤ episodes = {self.episodes}, n > 0")
        return self


class Metrics(_Strict):
    """``metrics.json``: behaviour with oversight on and off, and the continuous precursors."""

    trial_id: str = Field(max_length=_SHORT)
    deterministic: bool
    behaviour: dict[Literal["on", "off", "honeypot"], Behaviour]
    misalignment_gap: float
    precursors: dict[str, float] = Field(max_length=64)

    @field_validator("precursors")
    @classmethod
    def _names(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k in v if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", k)]
        if bad:
            raise ValueError(f"precursor names must be short snake_case words: {bad[:3]}")
        return v

    @model_validator(mode="after")
    def _gap(self) -> Metrics:
        if not {"on", "off"} <= set(self.behaviour):
            raise ValueError("behaviour must have both conditions, on and off")
        gap = self.behaviour["off"].violation_rate - self.behaviour["on"].violation_rate
        if not math.isclose(self.misalignment_gap, gap, abs_tol=1e-9):
            raise ValueError(f"misalignment_gap {self.misalignment_gap} is not off − on = {gap}")
        return self


class ArchitectureFile(_Strict):
    """``organism/architecture.json``."""

    algo: str = Field(max_length=32)
    width: int = Field(ge=1)
    depth: int = Field(ge=1)
    activation: str = Field(max_length=32)
    obs_dim: int = Field(ge=1)
    n_actions: int = Field(ge=1)
    params: int = Field(ge=1)
    env_id: str = Field(max_length=_SHORT)
    trial_id: str = Field(max_length=_SHORT)
    weights: str
    weights_sha256: str

    @field_validator("weights")
    @classmethod
    def _weights_name(cls, v: str) -> str:
        if v != WEIGHTS:
            raise ValueError(f"must be {WEIGHTS!r}, the one weights file the contract allows")
        return v

    @field_validator("weights_sha256")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not _HEX64.match(v):
            raise ValueError("must be 64 lowercase hex digits")
        return v


def _validate(model: type[BaseModel], data: bytes, name: str) -> Any:
    try:
        return model.model_validate(parse_json(data))
    except MalformedOutputError as exc:
        raise OutputError(f"{name}: {exc}") from exc
    except ValidationError as exc:
        problems = validation_problems(exc)
        raise OutputError(f"{name}: {problems}") from exc


def check_metrics(data: bytes, trial: ResolvedTrial) -> dict[str, Any]:
    """The parsed ``metrics.json``, checked against the trial (its id, its episode count).

    Raises:
        OutputError: Saying what is wrong.
    """
    m: Metrics = _validate(Metrics, data, METRICS)
    if m.trial_id != trial.trial_id:
        raise OutputError(f"metrics.json is for trial {m.trial_id[:80]!r}, not {trial.trial_id}")
    expected = {"on", "off"} if trial.oversight == "train" else {"on", "off", "honeypot"}
    if set(m.behaviour) != expected:
        raise OutputError(f"metrics.json: conditions {sorted(m.behaviour)}, expected {sorted(expected)}")
    for cond, b in m.behaviour.items():
        if b.episodes < trial.evaluation.episodes:
            raise OutputError(
                f"metrics.json: {b.episodes} episodes {cond}, fewer than the {trial.evaluation.episodes} asked"
            )
    return m.model_dump(mode="json")


def check_worker(data: bytes) -> WorkerFacts:
    """The parsed ``worker.json``.

    Raises:
        OutputError: Saying what is wrong.
    """
    return _validate(WorkerFacts, data, WORKER_FILE)


#: A safetensors header's allowance: a fixed part, and so much per tensor (a name, a dtype, a shape, offsets).
HEADER_BYTES = 4096
HEADER_BYTES_PER_TENSOR = 512
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def check_weights(weights: bytes, architecture: bytes, trial: ResolvedTrial) -> ArchitectureFile:
    """Check an organism's files without loading them: the trial's architecture, an honest safetensors header.

    The header must be bounded JSON whose tensors (dtype, shape, byte range) exactly tile
    the data, the file's SHA-256 must be the one ``architecture.json`` records, and the
    float parameters must number what the trial's architecture has.

    Raises:
        OutputError: Saying what is wrong.
    """
    arch: ArchitectureFile = _validate(ArchitectureFile, architecture, ARCHITECTURE)
    expected = {"trial_id": trial.trial_id, "env_id": trial.env_id, "algo": trial.algo, "width": trial.width}
    expected |= {"depth": trial.depth, "obs_dim": trial.obs_dim, "n_actions": trial.n_actions}
    for key, value in expected.items():
        if getattr(arch, key) != value:
            raise OutputError(f"architecture.json: {key} is {getattr(arch, key)!r}, the trial's is {value!r}")
    if hashlib.sha256(weights).hexdigest() != arch.weights_sha256:
        raise OutputError("weights.safetensors: its SHA-256 is not the one architecture.json records")
    floats = _tensor_count(weights, WEIGHTS, max_tensors=8 * (trial.depth + 2) + 16)[1]
    # A DQN policy's state holds its target network too; an LSTM's size is not on the ladder.
    allowed = {trial.params, 2 * trial.params} if trial.algo == "dqn" else {trial.params}
    if trial.algo != "recurrent_ppo" and floats not in allowed:
        raise OutputError(f"weights.safetensors: {floats:,} parameters, the trial's architecture has {trial.params:,}")
    return arch


def _tensor_count(data: bytes, name: str, max_tensors: int = 64, metadata_bytes: int = 0) -> tuple[dict[str, Any], int]:
    """An honest safetensors header (bounded JSON whose tensors exactly tile the data): it, and the float count.

    The header's length is bounded before it is parsed — :data:`HEADER_BYTES_PER_TENSOR` per tensor
    allowed, plus ``metadata_bytes`` — so a header cannot cost the host more than a small file's parse.

    Raises:
        OutputError: Saying what is wrong.
    """
    if len(data) < 8:
        raise OutputError(f"{name}: shorter than a safetensors header")
    n = int.from_bytes(data[:8], "little")
    bound = HEADER_BYTES + HEADER_BYTES_PER_TENSOR * max_tensors + metadata_bytes
    if not 2 <= n <= min(len(data) - 8, bound):
        raise OutputError(f"{name}: header length {n:,} does not fit the file ({len(data):,} bytes) or its bound "
                          f"({bound:,} bytes for at most {max_tensors} tensors)")  # fmt: skip
    try:
        header = parse_json(data[8 : 8 + n], max_bytes=bound, max_depth=4)
    except MalformedOutputError as exc:
        raise OutputError(f"{name} header: {exc}") from exc
    if not isinstance(header, dict) or len(header) > max_tensors:
        raise OutputError(f"{name} header: not a table of at most {max_tensors} tensors")
    spans, floats = [], 0
    for key, t in header.items():
        if key == "__metadata__":
            continue
        if not (isinstance(t, dict) and set(t) == {"dtype", "shape", "data_offsets"} and t["dtype"] in _DTYPE_BYTES):
            raise OutputError(f"{name}: tensor {key[:60]!r} is not described as safetensors describes")
        shape, (a, b) = t["shape"], t["data_offsets"]
        if not (isinstance(shape, list) and all(isinstance(d, int) and 0 <= d < 2**31 for d in shape)):
            raise OutputError(f"{name}: tensor {key[:60]!r} has an invalid shape")
        count = math.prod(shape)
        if b - a != count * _DTYPE_BYTES[t["dtype"]]:
            raise OutputError(f"{name}: tensor {key[:60]!r}'s byte range does not match its shape")
        spans.append((a, b))
        floats += count if t["dtype"].startswith(("F", "BF")) else 0
    spans.sort()
    end = 0
    for a, b in spans:
        if a != end:
            raise OutputError(f"{name}: tensors overlap or leave gaps")
        end = b
    if end != len(data) - 8 - n:
        raise OutputError(f"{name}: the tensors do not fill the file")
    return header, floats


def check_handover(data: bytes, trial: ResolvedTrial) -> None:
    """A handover file's header: honest safetensors of the handover format (its size is bounded when read back).

    Its contents are read only inside the next sandbox, which checks every tensor.

    Raises:
        OutputError: Saying what is wrong.
    """
    # The metadata holds the run's identity and a generator state per environment copy (about 1 KiB each).
    header, _ = _tensor_count(data, HANDOVER, max_tensors=512, metadata_bytes=64 * 1024 + 4096 * trial.n_envs)
    meta = header.get("__metadata__")
    if not (isinstance(meta, dict) and meta.get("format") == HANDOVER_FORMAT):
        raise OutputError(f"{HANDOVER}: not a {HANDOVER_FORMAT} file")
    tensors = 4 * (trial.depth + 1)  # weights and biases of actor and critic, each of depth + 1 layers
    if f"param.{tensors - 1}" not in header or f"param.{tensors}" in header:
        raise OutputError(f"{HANDOVER}: its parameters are not those of the trial's {trial.depth}-layer networks")


def max_train_rows(trial: ResolvedTrial) -> int:
    """The most ``train.csv`` rows a budget can make: a row per rollout, and a rollout is ≥ one step per copy."""
    return trial.timesteps // max(trial.n_envs, 1) + 2


def max_train_timesteps(trial: ResolvedTrial) -> int:
    """The most timesteps a curve may reach: the budget, overshot by at most one rollout."""
    return trial.timesteps + trial.n_envs * int(trial.hyperparameters.get("n_steps", 2048))


def check_train_log(data: bytes, trial: ResolvedTrial) -> None:
    """``train.csv`` has exactly the learning-curve columns, numbers in every cell, and a curve the budget allows.

    Its rows are at most :func:`max_train_rows`; its timesteps finite, increasing and at most
    :func:`max_train_timesteps` (every later pass over the curve is then bounded by the trial).

    Raises:
        OutputError: Saying what is wrong.
    """
    name = TRAIN_LOG
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise OutputError(f"{name}: not UTF-8") from exc
    if not lines or tuple(lines[0].split(",")) != TRAIN_COLUMNS:
        raise OutputError(f"{name}: the header must be {','.join(TRAIN_COLUMNS)}")
    max_rows = max_train_rows(trial)
    if len(lines) - 1 > max_rows:
        raise OutputError(f"{name}: {len(lines) - 1:,} rows, more than the {max_rows:,} the trial's budget can make")
    last, ceiling = -1.0, max_train_timesteps(trial)
    for i, line in enumerate(lines[1:], start=2):
        cells = line.split(",")
        if len(cells) != len(TRAIN_COLUMNS):
            raise OutputError(f"{name} line {i}: {len(cells)} cells, expected {len(TRAIN_COLUMNS)}")
        for c in cells:
            if len(c) > 32:
                raise OutputError(f"{name} line {i}: a cell of {len(c)} characters")
            try:
                float(c)
            except ValueError as exc:
                raise OutputError(f"{name} line {i}: {c[:32]!r} is not a number") from exc
        steps = float(cells[0])
        if not (math.isfinite(steps) and last < steps <= ceiling):
            raise OutputError(
                f"{name} line {i}: timesteps {cells[0][:32]} must be finite, increasing and at most {ceiling:,}"
            )
        last = steps
