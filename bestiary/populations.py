"""Grouping a sweep's trials into units: one organism each (stable-baselines3) or populations of one shape.

Trials whose organisms share an architecture and hyperparameters — environment class
and observation size, width, depth, activation, copies, PPO settings, evaluation — can be
trained as one population (:mod:`bestiary.organisms.population`). Trials that differ only
in their training budget are one training run handed over at each budget, so they always
go to the same population. A population's size is capped by a cost model
(:func:`max_population`: larger organisms gain less from batching and take more memory),
and groups are split evenly so that no population is much larger than the others. Units are
handed out longest first (:func:`unit_cost`), so that the last one to finish is a short one
and no worker idles while another trains a large population alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from bestiary.organisms.spec import ResolvedTrial
from bestiary.organisms.staging import Job, Unit

#: Organisms per population by parameter count: (largest params, population size). From
#: ``benchmarks/train_throughput.py``: throughput per organism stops growing past these
#: sizes, and the population's activations stay within cache and a few hundred MiB.
POPULATION_SIZES: tuple[tuple[int, int], ...] = ((3_000, 64), (30_000, 32), (300_000, 16))
LARGEST_POPULATION = 8
#: The per-sample cost that does not grow with the organism, in parameter-equivalents: environment
#: stepping, sampling, the optimiser's bookkeeping (``benchmarks/train_throughput.py``: about 2 µs
#: per organism-step at 1e3 parameters, 7 µs at 1e4, 42 µs at 1e5).
OVERHEAD_PARAMS = 5_000


def max_population(params: int) -> int:
    """The most organisms of ``params`` parameters one population process trains."""
    for bound, size in POPULATION_SIZES:
        if params <= bound:
            return size
    return LARGEST_POPULATION


def shape_key(trial: ResolvedTrial) -> str:
    """What organisms must share to be trained together."""
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


def stream_key(trial: ResolvedTrial) -> str:
    """Trials that are one training run handed over at several budgets share this."""
    return json.dumps([trial.env_id, trial.env_kwargs, trial.seed, trial.oversight], sort_keys=True)


def units_of(trials: Sequence[ResolvedTrial], evaluate: bool = True, singletons: bool = False) -> list[Unit]:
    """The units that train ``trials``: one per sb3 trial, populations for the rest.

    Args:
        trials: Resolved trials to run.
        evaluate: Evaluate after training.
        singletons: One organism per unit even for the population trainer (retries: a
            failure is retried alone).
    """
    units = [Unit("train", (Job(t),), evaluate=evaluate, trainer="sb3") for t in trials if t.trainer == "sb3"]
    groups: dict[str, dict[str, list[ResolvedTrial]]] = {}
    for t in trials:
        if t.trainer == "population":
            groups.setdefault(shape_key(t), {}).setdefault(stream_key(t), []).append(t)
    for streams in groups.values():
        members = list(streams.values())
        cap = 1 if singletons else max_population(members[0][0].params)
        parts = math.ceil(len(members) / cap)
        for k in range(parts):
            chosen = members[k::parts]  # even sizes, and every budget of a stream in one part
            jobs = tuple(Job(t) for stream in chosen for t in stream)
            units.append(Unit("train", jobs, evaluate=evaluate, trainer="population"))
    return sorted(units, key=unit_cost, reverse=True)


def unit_cost(unit: Unit) -> float:
    """Organism-steps weighted by size: each stream trains once, to its largest budget."""
    streams: dict[str, tuple[int, int]] = {}
    for job in unit.jobs:
        t = job.trial
        key = stream_key(t)
        streams[key] = (max(streams.get(key, (0, 0))[0], t.timesteps), t.params)
    return float(sum(steps * (params + OVERHEAD_PARAMS) for steps, params in streams.values()))


def describe(units: Sequence[Unit]) -> dict[str, Any]:
    """Counts for the dry run: units, organisms, and the population sizes."""
    sizes = sorted((len(u.jobs) for u in units if u.trainer == "population"), reverse=True)
    return {
        "units": len(units),
        "organisms": sum(len(u.jobs) for u in units),
        "populations": len(sizes),
        "population_sizes": sizes[:20],
    }
