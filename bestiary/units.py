"""Grouping a sweep's trials into units: one organism each (stable-baselines3) or populations of one shape.

Trials whose organisms share an architecture and hyperparameters — environment class
and observation size, width, depth, activation, copies, PPO settings, evaluation — can be
trained as one population (:mod:`bestiary.organisms.worker.population`). Trials that differ only
in their training budget are one training run handed over at each budget, so they always
go to the same population. A population's size is capped by a cost model
(:func:`max_population`: larger organisms gain less from batching and take more memory),
and groups are split evenly so that no population is much larger than the others. Units are
handed out longest first (by :class:`~bestiary.costs.CostModel`), so that the last one to finish is a short one
and no worker idles while another trains a large population alone.

A training run split by a sealed forecast (its smaller budgets before the seal, the larger
after) is handed over: the unit before the seal writes the run's state at its last budget
there (``hand_over``), and the unit after it trains on from that state (``resume``) instead
of from zero. Runs going on from one point are grouped apart from runs starting afresh.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bestiary.costs import CostModel
from bestiary.organisms.protocol import HANDOVER, run_identity, shape_of, stream_of
from bestiary.organisms.readback import handover_bound
from bestiary.organisms.rundir import RunDir, RunDirError
from bestiary.organisms.spec import ResolvedTrial
from bestiary.organisms.unit import Job, Unit

#: Organisms per population by parameter count: (largest params, population size). From
#: ``benchmarks/train_throughput.py``: the sizes at which a population trained fastest per
#: organism (larger ones lose as their activations leave the cache).
POPULATION_SIZES: tuple[tuple[int, int], ...] = ((3_000, 64), (30_000, 16), (300_000, 8))
LARGEST_POPULATION = 8


@dataclass(frozen=True)
class Resume:
    """A training run's handover (verified bytes), where it was taken, and the organism recorded there.

    Attributes:
        data: The handover's bytes.
        timesteps: The budget it was taken at.
        trial_id: The trial it was taken at.
        organism: That trial's recorded organism files (weights and architecture, verified), which the
            sandbox checks the handed-over weights against.
    """

    data: bytes
    timesteps: int
    trial_id: str = ""
    organism: Mapping[str, bytes] = field(default_factory=dict)


def max_population(params: int) -> int:
    """The most organisms of ``params`` parameters one population process trains."""
    for bound, size in POPULATION_SIZES:
        if params <= bound:
            return size
    return LARGEST_POPULATION


def units_of(
    trials: Sequence[ResolvedTrial],
    evaluate: bool = True,
    singletons: bool = False,
    hand_over: frozenset[str] = frozenset(),
    resume: Mapping[str, Resume] | None = None,
) -> list[Unit]:
    """The units that train ``trials``: one per sb3 trial, populations for the rest.

    Args:
        trials: Resolved trials to run.
        evaluate: Evaluate after training.
        singletons: One organism per unit even for the population trainer (retries: a
            failure is retried alone).
        hand_over: Population trials at which to write their training run's state.
        resume: Population trial id → the handover its training run goes on from.
    """
    resume = resume or {}
    units = [Unit("train", (Job(t),), evaluate=evaluate, trainer="sb3") for t in trials if t.trainer == "sb3"]
    population = [t for t in trials if t.trainer == "population"]
    points = {run_identity(t): resume[t.trial_id] for t in population if t.trial_id in resume}
    groups: dict[tuple[str, int], dict[str, list[ResolvedTrial]]] = {}
    for t in population:  # runs going on from one point are grouped apart from the others
        point = points.get(run_identity(t))
        key = (shape_of(t), point.timesteps if point else 0)
        groups.setdefault(key, {}).setdefault(stream_of(t), []).append(t)
    for streams in groups.values():
        members = list(streams.values())
        cap = 1 if singletons else max_population(members[0][0].params)
        parts = math.ceil(len(members) / cap)
        for k in range(parts):
            chosen = members[k::parts]  # even sizes, and every budget of a stream in one part
            jobs = []
            for stream in chosen:
                point = points.get(run_identity(stream[0]))
                if point is None:
                    jobs += [Job(t) for t in stream]
                else:  # the handover goes with the run's first trial here
                    digest = hashlib.sha256(point.data).hexdigest()
                    jobs += [
                        Job(t, {HANDOVER: point.data, **point.organism} if j == 0 else None, point.timesteps,
                            point.trial_id, digest)
                        for j, t in enumerate(stream)
                    ]  # fmt: skip
            handed = frozenset(t.trial_id for stream in chosen for t in stream) & hand_over
            units.append(Unit("train", tuple(jobs), evaluate=evaluate, trainer="population", hand_over=handed))
    return sorted(units, key=CostModel().unit_seconds, reverse=True)


def describe(units: Sequence[Unit]) -> dict[str, Any]:
    """Counts for the dry run: units, organisms, and the population sizes."""
    sizes = sorted((len(u.jobs) for u in units if u.trainer == "population"), reverse=True)
    return {
        "units": len(units),
        "organisms": sum(len(u.jobs) for u in units),
        "populations": len(sizes),
        "population_sizes": sizes[:20],
    }


def hand_over_points(before: Sequence[ResolvedTrial], after: Sequence[ResolvedTrial]) -> frozenset[str]:
    """The trials before a seal at whose budget a population writes its run's state: each split run's largest."""
    split = {run_identity(t) for t in after if t.trainer == "population"}
    last: dict[str, ResolvedTrial] = {}
    for t in before:
        key = run_identity(t)
        if t.trainer == "population" and key in split and (key not in last or t.timesteps > last[key].timesteps):
            last[key] = t
    return frozenset(t.trial_id for t in last.values())


def resumes(before: Sequence[tuple[ResolvedTrial, RunDir]], todo: Sequence[ResolvedTrial]) -> dict[str, Resume]:
    """For trials after a seal, the handover their run goes on from: the latest one recorded before the seal.

    A handover the host did not record, or that changed since it wrote it, is not used:
    the run is then trained from zero (the same organism).
    """
    first: dict[str, int] = {}
    for t in todo:
        if t.trainer == "population":
            first[run_identity(t)] = min(first.get(run_identity(t), t.timesteps), t.timesteps)
    found: dict[str, Resume] = {}
    for t, rd in sorted(before, key=lambda pair: -pair[0].timesteps):
        key = run_identity(t)
        if key in found or key not in first or t.timesteps >= first[key] or t.trainer != "population":
            continue
        try:
            data = rd.handover(handover_bound(t))
            organism = rd.organism_files() if data is not None else {}
        except RunDirError:
            continue
        if data is not None:
            found[key] = Resume(data, t.timesteps, t.trial_id, organism)
    return {t.trial_id: found[run_identity(t)] for t in todo if run_identity(t) in found}
