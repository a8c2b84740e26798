"""Sweep specs: a scaling study in one YAML file, parsed into typed, frozen models.

Unknown keys are rejected with the valid ones listed, and every error names the file,
the line and the key. Configs are data: nothing in them is ever evaluated. A spec is
hostile-input safe: the file's size, the YAML's node count (so alias bombs are refused
before they expand) and its nesting are bounded, and so are the grid's sizes — seeds,
rungs, widths, knob values and the total number of trials — each with an error naming
the key and the limit (``max_trials`` raises the last one explicitly).

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

The reference of every key is ``docs/sweep-spec.md``, generated from these models.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from bestiary.errors import BestiaryError
from bestiary.organisms.compute import LrRule
from bestiary.organisms.spec import ALGORITHMS, DEFAULT_TRAINER, TRAINERS, Algorithm, EvalSpec, Trainer
from bestiary.sandbox.policy import limit_docs

#: Bounds of a spec file.
MAX_SPEC_BYTES = 1024 * 1024
MAX_YAML_NODES = 100_000
MAX_SEEDS = 1000
MAX_RUNGS = 64
MAX_LIST = 256
MAX_WIDTH = 65_536
MAX_PARAMS = 10**8
MAX_TIMESTEPS = 10**10
DEFAULT_MAX_TRIALS = 20_000


class SpecError(BestiaryError):
    """A sweep spec that is not valid, with file, line and key."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(_Model):
    """A geometric range: ``rungs`` values evenly spaced in log scale from ``min`` to ``max``."""

    min: int = Field(gt=0, description="Smallest value.")
    max: int = Field(gt=0, description="Largest value.")
    rungs: int = Field(ge=2, le=MAX_RUNGS, description=f"Number of values (2–{MAX_RUNGS}).")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self


class EnvironmentSpec(_Model):
    """One environment of the study, with fixed knob values and knob grids."""

    id: str = Field(max_length=200, description="Registered environment id, e.g. bestiary/OffSwitch-v0.")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Fixed knob values.")
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description=f"Knob -> values (at most {MAX_LIST} each); one variant per combination."
    )

    @field_validator("grid")
    @classmethod
    def _grid(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for knob, values in v.items():
            if len(values) > MAX_LIST:
                raise ValueError(f"knob {knob} has {len(values)} values; at most {MAX_LIST}")
        return v

    def variants(self) -> list[dict[str, Any]]:
        """Every knob combination of the grid, over the fixed kwargs."""
        keys = sorted(self.grid)
        return [
            {**self.kwargs, **dict(zip(keys, values, strict=True))}
            for values in itertools.product(*(self.grid[k] for k in keys))
        ]


class ParamsRange(Range):
    """A geometric ladder of parameter counts."""

    max: int = Field(gt=0, le=MAX_PARAMS, description=f"Largest parameter count (at most {MAX_PARAMS:,}).")


class StepsRange(Range):
    """A geometric ladder of training timesteps."""

    max: int = Field(gt=0, le=MAX_TIMESTEPS, description=f"Largest number of timesteps (at most {MAX_TIMESTEPS:,}).")


class ScaleSpec(_Model):
    """The ladder: a parameter range or explicit widths, the depth(s), and the timesteps (a value or a range)."""

    params: ParamsRange | None = Field(None, description="Parameter ladder (give this or `widths`).")
    widths: list[int] | None = Field(
        None, max_length=MAX_LIST, description=f"Explicit widths, each 1–{MAX_WIDTH} (give this or `params`)."
    )
    depths: list[int] = Field(default_factory=lambda: [2], max_length=16, description="Hidden layers; one ladder each.")
    timesteps: int | StepsRange | None = Field(
        None, description="Training timesteps: a value, or a range as a second scale axis (default: defaults.yaml)."
    )
    max_compute: float | None = Field(
        None,
        gt=0,
        description="Cells whose training compute (FLOPs, the project's formula) exceeds this are not planned: "
        "a triangular grid, large networks trained for fewer steps; the plan and the report show it as the edge.",
    )
    lr_rule: LrRule = Field(
        "constant",
        description="Learning rate per width: constant, inverse_width (base·min(1, 16/width), μP-style) or "
        "inverse_sqrt_width (docs/analysis.md).",
    )

    @model_validator(mode="after")
    def _one_axis(self) -> ScaleSpec:
        if (self.params is None) == (self.widths is None):
            raise ValueError("give exactly one of `params` (a range) or `widths` (a list)")
        if any(not 1 <= w <= MAX_WIDTH for w in self.widths or []):
            raise ValueError(f"widths must be between 1 and {MAX_WIDTH}")
        if any(not 1 <= d <= 64 for d in self.depths):
            raise ValueError("depths must be between 1 and 64")
        if isinstance(self.timesteps, int) and not 0 < self.timesteps <= MAX_TIMESTEPS:
            raise ValueError(f"timesteps must be between 1 and {MAX_TIMESTEPS:,}")
        return self


def _sandbox_spec() -> type[BaseModel]:
    """The ``sandbox`` section: every field of :class:`bestiary.sandbox.Limits` (same defaults and docs), and more."""
    fields: dict[str, Any] = {
        name: (type(default), Field(default, gt=0, description=doc)) for name, (default, doc) in limit_docs().items()
    }
    fields["enabled"] = (bool, Field(True, description="False trains WITHOUT isolation (recorded in every card)."))
    fields["backend"] = (str, Field("bwrap", description="Sandbox backend: bwrap, gvisor, or a plugin's."))
    model = create_model("SandboxSpec", __base__=_Model, **fields)
    model.__doc__ = "Per-unit sandbox limits and backend (the fields of bestiary.sandbox.Limits, same defaults)."
    return model


SandboxSpec = _sandbox_spec()


class ExecutorSpec(_Model):
    """Where trials run: ``local`` (a process pool here) or ``ray`` (an existing cluster)."""

    kind: Literal["local", "ray"] = Field("local", description="local (this machine) or ray (a cluster).")
    workers: int | None = Field(None, ge=1, le=1024, description="local: parallel units (default: one per core).")
    address: str | None = Field(None, description="ray: the cluster address for ray.init(address=...).")

    @model_validator(mode="after")
    def _address(self) -> ExecutorSpec:
        if self.kind == "ray" and not self.address:
            raise ValueError("the ray executor needs an `address` (e.g. 'auto' or '10.0.0.1:6379')")
        return self


#: Most seal levels of one sweep.
MAX_SEALS = 16
#: The bounds a seal level can set, in the order they are printed.
SEAL_BOUNDS = ("params", "timesteps", "compute")


class ForecastSpec(_Model):
    """Sealed forecasts inside the sweep, at one or several levels.

    The organisms at or below a level are trained first, then its forecast is sealed, then the
    sweep trains on to the next level. A bound given as a list sets one level per entry (several
    lists must have the same length; a single value applies to every level), e.g.
    ``{compute: [1e9, 1e10, 1e11]}``. How to run a study in pieces: docs/studies-in-pieces.md.
    """

    params: int | list[int] | None = Field(
        None, description="Organisms of at most this many parameters are trained before the seal (one per level)."
    )
    timesteps: int | list[int] | None = Field(
        None,
        description="... and of at most this many training timesteps (a population's training run cut here goes "
        "on after the seal from its state at the cut, not from zero).",
    )
    compute: float | list[float] | None = Field(
        None,
        description="... and of at most this much training compute (FLOPs, the project's formula; docs/analysis.md)"
        ": a list such as [1e9, 1e10, 1e11] seals one forecast per level, in order.",
    )
    tau: float = Field(0.5, gt=0, lt=1, description="Danger level of the forecast behaviour.")

    @model_validator(mode="after")
    def _bounded(self) -> ForecastSpec:
        given = {k: getattr(self, k) for k in SEAL_BOUNDS if getattr(self, k) is not None}
        if not given:
            raise ValueError("give `params`, `timesteps` and/or `compute`: the bound below which organisms come first")
        lengths = {k: len(v) for k, v in given.items() if isinstance(v, list)}
        if any(n == 0 or n > MAX_SEALS for n in lengths.values()):
            raise ValueError(f"a list of seal levels holds 1 to {MAX_SEALS} values, got {lengths}")
        if len(set(lengths.values())) > 1:
            raise ValueError(f"lists of seal levels must have the same length, got {lengths}")
        for k, v in given.items():
            values = v if isinstance(v, list) else [v]
            if any(not x > 0 for x in values):
                raise ValueError(f"`{k}` must be positive, got {v}")
            if any(b <= a for a, b in itertools.pairwise(values)):
                raise ValueError(f"`{k}`: seal levels must increase, got {v}")
        return self

    def levels(self) -> list[dict[str, float]]:
        """Each seal's bounds, in order (a bound not given is absent)."""
        n = max((len(v) for k in SEAL_BOUNDS if isinstance(v := getattr(self, k), list)), default=1)
        out: list[dict[str, float]] = [{} for _ in range(n)]
        for k in SEAL_BOUNDS:
            v = getattr(self, k)
            if v is not None:
                for i in range(n):
                    out[i][k] = float(v[i] if isinstance(v, list) else v)
        return out

    def before(self, params: int, timesteps: int, compute: float = 0.0, level: int = 0) -> bool:
        """Whether an organism of this size, budget and compute is trained before seal ``level`` (0-based)."""
        return within(self.levels()[level], params, timesteps, compute)


def within(bounds: dict[str, float], params: float, timesteps: float, compute: float) -> bool:
    """Whether an organism lies at or below a seal level's bounds."""
    values = {"params": params, "timesteps": timesteps, "compute": compute}
    return all(values[k] <= v for k, v in bounds.items())


def describe_level(bounds: dict[str, float]) -> str:
    """A seal level as text, e.g. ``compute ≤ 1e+10``."""
    return ", ".join(f"{k} ≤ {v:.3g}" if k == "compute" else f"{k} ≤ {v:,.0f}" for k, v in bounds.items())


class SweepSpec(_Model):
    """A scaling study."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", description="Names runs/<name>/.")
    environments: list[EnvironmentSpec] = Field(min_length=1, max_length=MAX_LIST, description="The environments.")
    algo: Algorithm = Field("ppo", description="Training algorithm: " + ", ".join(ALGORITHMS) + ".")
    trainer: Trainer | None = Field(
        None,
        description="Who trains the organisms: " + " or ".join(TRAINERS) + " (population: many PPO organisms of one "
        "shape per process; the same algorithm, checked against sb3 by benchmarks/population_equivalence.py); "
        f"default: {DEFAULT_TRAINER} for fresh PPO organisms, sb3 otherwise.",
    )
    hyperparameters: dict[str, Any] = Field(default_factory=dict, description="Overrides of organisms/defaults.yaml.")
    scale: ScaleSpec = Field(description="The scale ladder.")
    seeds: int | list[int] = Field(1, description=f"A count (seeds 0..n-1) or a list of seeds (at most {MAX_SEEDS}).")
    evaluation: EvalSpec = Field(default_factory=EvalSpec, description="How every organism is evaluated.")
    sandbox: SandboxSpec = Field(default_factory=SandboxSpec, description="Sandbox limits and backend.")  # type: ignore[valid-type]
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec, description="Where the trials run.")
    retries: int = Field(1, ge=0, le=10, description="Re-runs of a failed trial before it stays failed.")
    max_trials: int = Field(
        DEFAULT_MAX_TRIALS, ge=1, le=10**7, description="Refuse a grid of more trials than this (raise it explicitly)."
    )
    forecast: ForecastSpec | None = Field(
        None,
        description="Seal forecasts (runs/<sweep>/forecast.json, or forecast-K.json for several levels) from the "
        "organisms at or below each level before any organism above it is trained; the report scores them.",
    )

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: int | list[int]) -> int | list[int]:
        n = v if isinstance(v, int) else len(v)
        if n < 1 or n > MAX_SEEDS:
            raise ValueError(f"seeds must be a count or a list of 1 to {MAX_SEEDS} seeds, got {n}")
        if isinstance(v, list) and any(s < 0 for s in v):
            raise ValueError("seeds must be non-negative")
        return v

    def seed_list(self) -> list[int]:
        """The seeds as a list."""
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


def _line_index(node: yaml.Node) -> dict[tuple, int]:
    """Map every key path of a YAML document to its 1-based line, visiting at most :data:`MAX_YAML_NODES` nodes.

    Raises:
        SpecError: If the document expands to more nodes (an alias bomb) or nests too deeply.
    """
    out: dict[tuple, int] = {}
    stack: list[tuple[yaml.Node, tuple, int]] = [(node, (), 0)]
    visits = 0
    while stack:
        n, path, depth = stack.pop()
        visits += 1
        if visits > MAX_YAML_NODES or depth > 64:
            what = f"more than {MAX_YAML_NODES:,} nodes" if visits > MAX_YAML_NODES else "more than 64 levels"
            raise SpecError(f"the spec expands to {what} (YAML aliases or nesting); a sweep spec is far smaller")
        out.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                p = (*path, getattr(key, "value", "?"))
                out.setdefault(p, key.start_mark.line + 1)
                stack.append((value, p, depth + 1))
        elif isinstance(n, yaml.SequenceNode):
            stack.extend((item, (*path, i), depth + 1) for i, item in enumerate(n.value))
    return out


def _describe(loc: tuple, lines: dict[tuple, int], source: str) -> str:
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
        SpecError: For YAML syntax errors, specs beyond the bounds, and invalid content,
            naming file, line and key.
    """
    if len(text.encode()) > MAX_SPEC_BYTES:
        raise SpecError(f"{source}: {len(text.encode()):,} bytes; a sweep spec is at most {MAX_SPEC_BYTES:,}")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        lines = _line_index(node) if node is not None else {}
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise SpecError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    except RecursionError as exc:
        raise SpecError(f"{source}: the YAML nests too deeply for a sweep spec") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{source}: a sweep spec is a mapping with keys {', '.join(SweepSpec.model_fields)}")
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for e in exc.errors()[:20]:
            where = _describe(e["loc"], lines, source)
            msg = e["msg"]
            if e["type"] == "extra_forbidden":
                msg = f"unknown key; valid keys here: {_valid_keys(e['loc'])}"
            problems.append(f"{where}: {msg}")
        raise SpecError("invalid sweep spec:\n  " + "\n  ".join(problems)) from exc


def load_sweep(path: Path | str) -> SweepSpec:
    """Read and validate a sweep spec file.

    Raises:
        SpecError: If the file is missing, too large or invalid.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"{path}: {path.stat().st_size:,} bytes; a sweep spec is at most {MAX_SPEC_BYTES:,}")
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"cannot read the sweep spec {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path} is not a text file") from exc
    return parse_sweep(text, str(path))
