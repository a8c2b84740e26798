"""Sweep specs: a scaling study in one YAML file, parsed into typed, frozen models.

Unknown keys are rejected with the valid ones listed, and every error names the file,
the line and the key. Configs are data: nothing in them is ever evaluated.

Example (``examples/quickstart.yaml``)::

    name: quickstart
    environments:
      - id: bestiary/AbsentSupervisor-v0
      - id: bestiary/OffSwitch-v0
        grid: {cue_bands: [5, 9]}        # knob variants: one set of trials per value
    scale:
      params: {min: 300, max: 30000, rungs: 5}
      timesteps: 100000                  # or {min: ..., max: ..., rungs: ...} as an axis
    seeds: 2
    evaluation: {episodes: 1000}
    executor: {kind: local, workers: 2}
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bestiary.errors import BestiaryError


class SpecError(BestiaryError):
    """A sweep spec that is not valid, with file, line and key."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(_Model):
    """A geometric range: ``rungs`` values evenly spaced in log scale from ``min`` to ``max``."""

    min: int = Field(gt=0)
    max: int = Field(gt=0)
    rungs: int = Field(ge=2)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self


class EnvironmentSpec(_Model):
    """One environment of the study, with fixed knob values and knob grids."""

    id: str = Field(description="Registered environment id.")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Fixed knob values.")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="Knob -> values; one variant per combination.")

    def variants(self) -> list[dict[str, Any]]:
        """Every knob combination of the grid, over the fixed kwargs."""
        keys = sorted(self.grid)
        return [
            {**self.kwargs, **dict(zip(keys, values, strict=True))}
            for values in itertools.product(*(self.grid[k] for k in keys))
        ]


class ScaleSpec(_Model):
    """The ladder: a parameter range or explicit widths, the depth(s), and the timesteps (a value or a range)."""

    params: Range | None = None
    widths: list[int] | None = None
    depths: list[int] = Field(default_factory=lambda: [2])
    timesteps: int | Range | None = None

    @model_validator(mode="after")
    def _one_axis(self) -> ScaleSpec:
        if (self.params is None) == (self.widths is None):
            raise ValueError("give exactly one of `params` (a range) or `widths` (a list)")
        return self


class EvaluationSpec(_Model):
    """How every organism is evaluated."""

    episodes: int = Field(2000, ge=10)
    probes: int = Field(512, ge=20)
    deterministic: bool = False


class SandboxSpec(_Model):
    """Per-trial sandbox limits (see ``bestiary.sandbox.Limits``)."""

    memory_mb: int = Field(2048, gt=0)
    pids: int = Field(128, gt=0)
    cpus: float = Field(1.0, gt=0)
    cpu_seconds: float = Field(7200.0, gt=0)
    wall_seconds: float = Field(7200.0, gt=0)
    enabled: bool = Field(True, description="False trains WITHOUT isolation (recorded in every card).")


class ExecutorSpec(_Model):
    """Where trials run: ``local`` (a process pool here) or ``ray`` (an existing cluster)."""

    kind: Literal["local", "ray"] = "local"
    workers: int | None = Field(None, ge=1, description="local: parallel trials (default: one per core).")
    address: str | None = Field(None, description="ray: the cluster address for ray.init(address=...).")

    @model_validator(mode="after")
    def _address(self) -> ExecutorSpec:
        if self.kind == "ray" and not self.address:
            raise ValueError("the ray executor needs an `address` (e.g. 'auto' or '10.0.0.1:6379')")
        return self


class SweepSpec(_Model):
    """A scaling study."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Names runs/<name>/.")
    environments: list[EnvironmentSpec] = Field(min_length=1)
    algo: Literal["ppo", "a2c", "dqn", "recurrent_ppo"] = "ppo"
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    scale: ScaleSpec
    seeds: int | list[int] = 1
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)
    sandbox: SandboxSpec = Field(default_factory=SandboxSpec)
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)
    retries: int = Field(1, ge=0, description="Re-runs of a failed trial before it stays failed.")

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: int | list[int]) -> int | list[int]:
        if isinstance(v, int) and v < 1:
            raise ValueError("seeds must be a positive count or a list of seeds")
        return v

    def seed_list(self) -> list[int]:
        """The seeds as a list."""
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


def _line_index(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Map every key path of a YAML document to its 1-based line."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            p = (*path, key.value)
            out[p] = key.start_mark.line + 1
            _line_index(value, p, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, (*path, i), out)
    return out


def _describe(loc: tuple, lines: dict[tuple, int], source: str, model: type[BaseModel]) -> str:
    path = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in {"int", "list[int]"})))
    line = next((lines[path[:i]] for i in range(len(path), -1, -1) if path[:i] in lines), None)
    key = ".".join(str(p) for p in path) or "(top level)"
    return f"{source}:{line}: `{key}`" if line else f"{source}: `{key}`"


def _valid_keys(loc: tuple) -> str:
    model: type[BaseModel] = SweepSpec
    for part in loc[:-1]:
        field = model.model_fields.get(str(part)) if isinstance(part, str) else None
        if field is None:
            continue
        ann = field.annotation
        inner = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not inner:
            for a in getattr(ann, "__args__", ()):
                inner += [b for b in getattr(a, "__args__", ()) if isinstance(b, type) and issubclass(b, BaseModel)]
        if inner:
            model = inner[0]
    return ", ".join(model.model_fields)


def parse_sweep(text: str, source: str = "<sweep>") -> SweepSpec:
    """Parse and validate a sweep spec.

    Raises:
        SpecError: For YAML syntax errors and invalid content, naming file, line and key.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise SpecError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{source}: a sweep spec is a mapping with keys {', '.join(SweepSpec.model_fields)}")
    lines = _line_index(node) if node is not None else {}
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            where = _describe(e["loc"], lines, source, SweepSpec)
            msg = e["msg"]
            if e["type"] == "extra_forbidden":
                msg = f"unknown key; valid keys here: {_valid_keys(e['loc'])}"
            problems.append(f"{where}: {msg}")
        raise SpecError("invalid sweep spec:\n  " + "\n  ".join(problems)) from exc


def load_sweep(path: Path | str) -> SweepSpec:
    """Read and validate a sweep spec file.

    Raises:
        SpecError: If the file is missing or invalid.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"cannot read the sweep spec {path}: {exc.strerror}") from exc
    return parse_sweep(text, str(path))
