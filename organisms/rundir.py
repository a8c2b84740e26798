"""One object owns a trial's run directory (Contract 2): its paths, its files, its claim.

::

    runs/<sweep>/<trial-id>/
      trial.json     the resolved spec, written before the trial starts
      status.json    pending | running | done | failed (+ reason), attempts, timestamps,
                     and the SHA-256 of every output the host verified and wrote
      card.json      the organism card
      metrics.json   evaluation (written by the host after checking the sandbox's copy)
      train.csv      the learning curve (likewise)
      organism/      weights (safetensors) + architecture.json (likewise)
      handover.safetensors  the training run's whole state at this budget, when a sweep's sealed
                     forecast split the run here (likewise; read only by the sandbox that trains it on)
      audit.jsonl    sandbox audit records, appended by the host
      claim.json     who is running the trial now (see :mod:`bestiary.organisms.claims`)

Every file here is written by the host, atomically; the sandboxed run never writes into
this directory (it writes a staging directory, whose outputs the host checks and copies
in). Readers still treat every file as untrusted: reads are bounded, parsed with limits
and validated against a schema, and a file that fails is a :class:`RunDirError` with the
path and what was wrong, never a traceback.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bestiary.organisms.errors import OrganismFileError
from bestiary.organisms.files import json_bytes, sha256, write_atomic
from bestiary.organisms.protocol import (
    ARCHITECTURE_PATH,
    HANDOVER,
    METRICS,
    TRAIN_LOG,
    TRIAL,
    WEIGHTS_PATH,
    validation_problems,
)
from bestiary.organisms.spec import ResolvedTrial
from bestiary.sandbox.outputs import MalformedOutputError, UnsafeOutputError, parse_json, read_output
from bestiary.sandbox.result import append_audit

# The host's own files (the organism's outputs are named by the contract with the worker: protocol.py).
STATUS = "status.json"
CARD = "card.json"
AUDIT = "audit.jsonl"
CLAIM = "claim.json"
#: The outputs a trained and evaluated organism has, relative to its run directory (the handover when asked for).
OUTPUTS = (METRICS, TRAIN_LOG, WEIGHTS_PATH, ARCHITECTURE_PATH, HANDOVER)

State = Literal["pending", "running", "done", "failed"]
#: Why a trial is not done (besides the sandbox's reasons: error, oom, cpu_limit, timeout, pids_limit, setup_failed).
HOST_REASONS = ("malformed_output", "tampered", "disk", "nan", "lost")
MAX_HOST_JSON = 4 * 1024 * 1024


__all__ = [
    "ARCHITECTURE_PATH", "AUDIT", "CARD", "CLAIM", "METRICS", "OUTPUTS", "STATUS", "TRAIN_LOG", "TRIAL",
    "WEIGHTS_PATH", "RunDir", "RunDirError", "Status", "TamperedError", "json_bytes", "sha256", "write_atomic",
]  # fmt: skip


class RunDirError(OrganismFileError):
    """A run directory's file that is missing where it must exist, unsafe, malformed or not what the host wrote."""


class TamperedError(RunDirError):
    """An output that differs from what the host wrote, is gone, or was never recorded for a finished trial."""


class Status(BaseModel):
    """``status.json``: where a trial stands, and the host's record of its outputs."""

    model_config = ConfigDict(extra="forbid")

    state: State = "pending"
    attempts: int = Field(0, ge=0)
    reason: str | None = None
    error: str | None = Field(None, max_length=4000)
    started: float | None = None
    finished: float | None = None
    updated: float | None = None
    node: str | None = None
    outputs: dict[str, str] = Field(default_factory=dict, description="relative path -> SHA-256 the host wrote")


class RunDir:
    """A trial's run directory. Every reader and writer of Contract 2's files goes through it.

    Args:
        path: The directory (``runs/<sweep>/<trial-id>``); it need not exist yet.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).absolute()

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # ------------------------------------------------------------------ reading
    def exists(self) -> bool:
        """Whether the directory holds a trial (a ``trial.json``)."""
        return (self.path / TRIAL).is_file()

    def read_bytes(self, rel: str, max_bytes: int = 256 * 1024 * 1024) -> bytes:
        """A file of the run directory, read without following links, at most ``max_bytes``.

        Raises:
            FileNotFoundError: If it does not exist.
            RunDirError: If it is a link, a special file, or too large.
        """
        try:
            return read_output(self.path, rel, max_bytes)
        except FileNotFoundError:
            raise
        except (UnsafeOutputError, OSError) as exc:
            raise RunDirError(f"{self.path / rel}: {exc}") from exc

    def read_json(self, rel: str, max_bytes: int = MAX_HOST_JSON) -> Any:
        """A JSON file of the run directory, bounded (size, depth, integer length).

        Raises:
            FileNotFoundError: If it does not exist.
            RunDirError: If it is unsafe or malformed.
        """
        data = self.read_bytes(rel, max_bytes)
        try:
            return parse_json(data, max_bytes=max_bytes)
        except MalformedOutputError as exc:
            raise RunDirError(f"{self.path / rel} is malformed: {exc}") from exc

    def _model(self, rel: str, model: type[BaseModel]) -> Any:
        data = self.read_json(rel)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            problems = validation_problems(exc, most=5)
            raise RunDirError(f"{self.path / rel} is not a valid {rel}: {problems}") from exc

    def trial(self) -> ResolvedTrial:
        """The resolved trial (``trial.json``).

        Raises:
            RunDirError: If it is missing, unsafe or not a resolved trial (with the path).
        """
        try:
            return self._model(TRIAL, ResolvedTrial)
        except FileNotFoundError as exc:
            raise RunDirError(
                f"{self.path} is not a run directory: it has no trial.json (expected the output of "
                f"`bestiary train` or `bestiary sweep`)"
            ) from exc

    def status(self) -> Status:
        """``status.json`` (a pending status if there is none yet).

        Raises:
            RunDirError: If it exists but is unsafe or malformed.
        """
        try:
            return self._model(STATUS, Status)
        except FileNotFoundError:
            return Status()

    def card(self) -> dict[str, Any]:
        """``card.json`` ({} if there is none yet).

        Raises:
            RunDirError: If it exists but is unsafe or malformed.
        """
        try:
            card = self.read_json(CARD)
        except FileNotFoundError:
            return {}
        if not isinstance(card, dict):
            raise RunDirError(f"{self.path / CARD} is not a JSON object")
        return card

    def verified(self, rel: str, max_bytes: int = 256 * 1024 * 1024) -> bytes:
        """An output's bytes, checked against the SHA-256 the host recorded when it wrote them.

        Raises:
            TamperedError: If the host recorded no such output, it is missing, or it differs
                from what the host wrote.
        """
        expected = self.status().outputs.get(rel)
        if expected is None:
            raise TamperedError(f"{self.path}: the host recorded no output {rel}")
        try:
            data = self.read_bytes(rel, max_bytes)
        except FileNotFoundError as exc:
            raise TamperedError(f"{self.path / rel} is missing, though the host wrote it (tampered)") from exc
        except RunDirError as exc:
            raise TamperedError(f"{exc} (tampered: the host wrote a plain file)") from exc
        if sha256(data) != expected:
            raise TamperedError(f"{self.path / rel} differs from what the host wrote (tampered)")
        return data

    def metrics(self) -> dict[str, Any]:
        """The verified ``metrics.json``.

        Raises:
            RunDirError: If it is missing, tampered or malformed.
        """
        data = self.verified(METRICS, MAX_HOST_JSON)
        try:
            metrics = parse_json(data)
        except MalformedOutputError as exc:
            raise RunDirError(f"{self.path / METRICS} is malformed: {exc}") from exc
        if not isinstance(metrics, dict):
            raise RunDirError(f"{self.path / METRICS} is not a JSON object")
        return metrics

    def has_organism(self) -> bool:
        """Whether the host recorded a saved organism here."""
        try:
            outputs = self.status().outputs
        except RunDirError:
            return False
        return WEIGHTS_PATH in outputs and ARCHITECTURE_PATH in outputs

    def organism_files(self) -> dict[str, bytes]:
        """The organism's files (weights and architecture), verified against the host's record.

        Raises:
            RunDirError: If there is no organism, or its files were changed since the host wrote them.
        """
        if not self.has_organism():
            raise RunDirError(
                f"{self.path} has no trained organism (status.json records no {WEIGHTS_PATH}); train it first"
            )
        return {rel: self.verified(rel) for rel in (WEIGHTS_PATH, ARCHITECTURE_PATH)}

    def handover(self, max_bytes: int) -> bytes | None:
        """The training run's handover state at this organism, verified; None if the host recorded none.

        Raises:
            TamperedError: If it was changed since the host wrote it.
        """
        try:
            recorded = HANDOVER in self.status().outputs
        except RunDirError:
            return None
        return self.verified(HANDOVER, max_bytes) if recorded else None

    # ------------------------------------------------------------------ writing
    def create(self) -> None:
        """Create the directory (host-owned, readable by everyone, writable by the host only)."""
        self.path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, 0o755)

    def write_json(self, rel: str, obj: Any) -> str:
        """Write a JSON file atomically; returns its SHA-256."""
        data = json_bytes(obj)
        write_atomic(self.path / rel, data)
        return sha256(data)

    def write_output(self, rel: str, data: bytes) -> str:
        """Write an output's bytes atomically; returns its SHA-256."""
        write_atomic(self.path / rel, data)
        return sha256(data)

    def write_trial(self, trial: ResolvedTrial) -> None:
        """Write ``trial.json``."""
        self.create()
        self.write_json(TRIAL, trial.to_json())

    def write_status(self, status: Status) -> Status:
        """Write ``status.json`` (stamping ``updated``)."""
        status = status.model_copy(update={"updated": time.time()})
        self.write_json(STATUS, status.model_dump(mode="json"))
        return status

    def write_card(self, card: dict[str, Any]) -> None:
        """Write ``card.json``."""
        self.write_json(CARD, card)

    def append_audit(self, record: dict[str, Any]) -> None:
        """Append one record to ``audit.jsonl`` (append-only; never read back or rewritten).

        Raises:
            RunDirError: If the log cannot be appended to (a directory or a link in its place).
        """
        try:
            append_audit(self.path / AUDIT, record)
        except OSError as exc:
            raise RunDirError(f"{self.path / AUDIT}: cannot append the audit record: {exc}") from exc

    def clear_outputs(self) -> None:
        """Remove a previous attempt's outputs (not the host's records: trial, status, card, audit, claim)."""
        for rel in OUTPUTS:
            (self.path / rel).unlink(missing_ok=True)
