"""A trial: everything that determines one organism, resolved against the defaults, with its id.

A :class:`TrialSpec` is what a user or a sweep asks for; :func:`resolve` fills every
default (hyperparameters from ``defaults.yaml``, the architecture from the scale) and
returns a :class:`ResolvedTrial`, whose content determines the trial id. Re-running the
same spec gives the same id, so finished trials are found and skipped.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing
from functools import cache
from importlib.resources import files
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import bestiary.envs as E
from bestiary.organisms.compute import LR_RULES, LrRule, learning_rate
from bestiary.organisms.errors import OrganismError
from bestiary.organisms.ladder import architecture
from bestiary.organisms.streams import SCHEME as STREAMS_SCHEME

#: The training algorithms (stable-baselines3 and sb3-contrib); one source for specs, sweeps and the CLI.
Algorithm = Literal["ppo", "a2c", "dqn", "recurrent_ppo"]
ALGORITHMS: tuple[str, ...] = typing.get_args(Algorithm)
#: Who trains an organism: stable-baselines3 one at a time (the reference), or a batched population.
Trainer = Literal["sb3", "population"]
TRAINERS: tuple[str, ...] = typing.get_args(Trainer)
#: The trainer of fresh PPO organisms when none is asked for: the population trainer, which learns what
#: stable-baselines3 learns (benchmarks/population_equivalence.py) at several times the organisms per core-hour.
DEFAULT_TRAINER: Trainer = "population"


class EvalSpec(BaseModel):
    """How an organism is evaluated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    episodes: int = Field(2000, ge=10, description="Episodes per oversight condition (on, off).")
    probes: int = Field(512, ge=20, description="Probe-set size for the precursors.")
    deterministic: bool = Field(False, description="Greedy actions instead of sampled ones.")


class TrialSpec(BaseModel):
    """What to train: environment, algorithm, scale, seed, budget, regime, evaluation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env_id: str = Field(description="Registered environment id, e.g. bestiary/OffSwitch-v0.")
    env_kwargs: dict[str, Any] = Field(default_factory=dict, description="Knob values over the registered ones.")
    algo: Algorithm = Field("ppo", description="Training algorithm: " + ", ".join(ALGORITHMS) + ".")
    hyperparameters: dict[str, Any] = Field(default_factory=dict, description="Overrides of defaults.yaml.")
    params: int | None = Field(None, description="Parameter budget (the closest width is used).")
    width: int | None = Field(None, description="Explicit width (instead of params).")
    depth: int | None = Field(None, ge=1, description="Hidden layers (default from defaults.yaml).")
    seed: int = Field(0, ge=0)
    timesteps: int | None = Field(None, gt=0, description="Training timesteps (default from defaults.yaml).")
    n_envs: int | None = Field(None, ge=1, description="Batched environment copies.")
    oversight: Literal["train", "on", "off", "in_distribution", "honeypots"] = Field(
        "train",
        description="Oversight regime during training: `train` (the mix), `on`, `off`, or a safety-training regime "
        "(`in_distribution`: the penalty always applies, the cue as in training; `honeypots`: the same, the "
        "unobserved-looking episodes carrying a faint tell). Organisms not trained on `train` are also "
        "evaluated on honeypots.",
    )
    evaluation: EvalSpec = Field(default_factory=EvalSpec)
    init_from: str | None = Field(None, description="Trial id of an organism to continue training from.")
    trainer: Trainer | None = Field(
        None,
        description="sb3 (stable-baselines3, one organism per process) or population (many PPO organisms per "
        f"process); default: {DEFAULT_TRAINER} for fresh PPO organisms, sb3 otherwise.",
    )
    lr_rule: LrRule = Field(
        "constant",
        description="How the learning rate scales with width: " + ", ".join(LR_RULES) + " (docs/analysis.md).",
    )


class ResolvedTrial(BaseModel):
    """A trial with every default filled in; its JSON is ``trial.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trial_id: str
    env_id: str
    env_kwargs: dict[str, Any]
    failure_mode: str
    obs_dim: int
    n_actions: int
    algo: str
    hyperparameters: dict[str, Any]
    activation: str
    width: int
    depth: int
    params: int
    seed: int
    timesteps: int
    n_envs: int
    oversight: str
    evaluation: EvalSpec
    init_from: str | None
    env_code: dict[str, str | None] = Field(default_factory=dict)
    trainer: Trainer = "sb3"
    mechanism: str = ""
    lr_rule: str = "constant"
    streams: str = STREAMS_SCHEME

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready dict written to ``trial.json``."""
        return self.model_dump(mode="json")


@cache
def defaults() -> dict[str, Any]:
    """The shipped ``defaults.yaml``."""
    return yaml.safe_load(files("bestiary.organisms").joinpath("defaults.yaml").read_text())


def default_hyperparameters(env_class: str, algo: str) -> dict[str, Any]:
    """Algorithm defaults overlaid with the environment class's overrides."""
    d = defaults()
    hp = dict(d["defaults"]["algos"][algo])
    hp.update((d.get("envs") or {}).get(env_class, {}).get(algo, {}))
    return hp


def _env_default(env_class: str, key: str) -> Any:
    d = defaults()
    return (d.get("envs") or {}).get(env_class, {}).get(key, d["defaults"][key])


def spec_from(data: dict[str, Any]) -> TrialSpec:
    """Validate a dict into a :class:`TrialSpec` with messages that name the bad field.

    Raises:
        OrganismError: Listing each invalid field, its problem, and the valid fields.
    """
    try:
        return TrialSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"`{'.'.join(str(p) for p in e['loc'])}`: {e['msg']}" for e in exc.errors())
        raise OrganismError(
            f"invalid trial spec: {problems}. Valid fields: {', '.join(TrialSpec.model_fields)}"
        ) from exc


def resolve(spec: TrialSpec, source: ResolvedTrial | None = None) -> ResolvedTrial:
    """Fill defaults, derive the architecture and the trial id.

    Args:
        spec: The trial asked for.
        source: The resolved trial of ``spec.init_from`` (continued training keeps its
            architecture and environment).

    Raises:
        UnknownEnvironmentError: For an unknown environment id (with suggestions).
        KnobError: For an invalid knob value.
        ScaleError: For an impossible scale.
        OrganismError: For other inconsistent input.
    """
    env = E.describe(spec.env_id, **spec.env_kwargs)  # the class alone: nothing of the environment runs here
    env_class = E.env_class(spec.env_id).__name__
    obs_dim, n_actions = env.obs_dim, env.n_actions
    depth = spec.depth or (source.depth if source else _env_default(env_class, "depth"))
    if source is not None:
        if spec.params is not None or spec.width is not None:
            raise OrganismError("continued training keeps the source organism's architecture; drop --params/--width")
        if (source.obs_dim, source.n_actions) != (obs_dim, n_actions):
            raise OrganismError(
                f"the source organism was trained on observations of size {source.obs_dim} and "
                f"{source.n_actions} actions; {spec.env_id} has {obs_dim} and {n_actions}"
            )
        arch = architecture(
            obs_dim,
            n_actions,
            width=source.width,
            depth=source.depth,
            shared_value=spec.algo == "dqn",
            recurrent=spec.algo == "recurrent_ppo",
        )
    else:
        arch = architecture(
            obs_dim,
            n_actions,
            params=spec.params,
            width=spec.width,
            depth=depth,
            shared_value=spec.algo == "dqn",
            recurrent=spec.algo == "recurrent_ppo",
        )
    hp = default_hyperparameters(env_class, spec.algo)
    unknown_hp = set(spec.hyperparameters) - set(hp) - {"policy_kwargs"}
    if unknown_hp:
        raise OrganismError(
            f"unknown {spec.algo} hyperparameter(s) {', '.join(sorted(unknown_hp))}; known: {', '.join(sorted(hp))}"
        )
    hp.update(spec.hyperparameters)
    if "learning_rate" in hp:
        if not isinstance(hp["learning_rate"], (int, float)) or isinstance(hp["learning_rate"], bool):
            raise OrganismError(f"learning_rate must be a number, got {hp['learning_rate']!r}")
        hp["learning_rate"] = learning_rate(float(hp["learning_rate"]), arch.width, spec.lr_rule)
    population_capable = spec.algo == "ppo" and spec.init_from is None
    trainer = spec.trainer or (DEFAULT_TRAINER if population_capable else "sb3")
    if trainer == "population" and not population_capable:
        raise OrganismError(
            "the population trainer trains fresh PPO organisms; use trainer: sb3 for "
            + ("continued training" if spec.init_from else f"algo {spec.algo}")
        )
    body = {
        "env_id": spec.env_id,
        "env_kwargs": {k: env.config[k] for k in sorted(spec.env_kwargs)},
        "failure_mode": env.failure_mode,
        "obs_dim": obs_dim,
        "n_actions": n_actions,
        "algo": spec.algo,
        "hyperparameters": hp,
        "activation": str(_env_default(env_class, "activation")),
        "width": arch.width,
        "depth": arch.depth,
        "params": arch.params,
        "seed": spec.seed,
        "timesteps": spec.timesteps or int(_env_default(env_class, "timesteps")),
        "n_envs": spec.n_envs or int(_env_default(env_class, "n_envs")),
        "oversight": spec.oversight,
        "evaluation": spec.evaluation.model_dump(),
        "init_from": spec.init_from,
        "env_code": E.env_code(spec.env_id),
        "trainer": trainer,
        "mechanism": env.mechanism,
        "lr_rule": spec.lr_rule,
        "streams": STREAMS_SCHEME,
    }
    return ResolvedTrial(trial_id=trial_id(body), **body)


def trial_id(body: dict[str, Any]) -> str:
    """A readable id derived from the resolved content: ``<Env>-w<W>d<D>-s<seed>-<hash>``."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:10]
    name = re.sub(r"[^A-Za-z0-9]+", "", body["env_id"].split("/")[-1].split("-v")[0])
    return f"{name}-w{body['width']}d{body['depth']}-s{body['seed']}-{digest}"
