"""The population trainer: a unit's organisms trained as one batched population, each recorded at its budget.

The unit's trials share a shape (:func:`~bestiary.organisms.protocol.shape_of`: environment
class, architecture, hyperparameters); they differ in environment knobs, seed and training
budget. Trials of one training run (:func:`~bestiary.organisms.protocol.run_identity`)
differ *only* in their budget: with a constant learning rate, SB3's ``learn(T)`` for a seed
is exactly the first ``T`` timesteps of the same seed's longer run, so every budget is a
checkpoint of one run and becomes its own organism — its weights, its learning curve up to
that point, its evaluation. Each organism is handed to the worker's loop as soon as it
reaches its budget (so the host can record it at once: a killed sweep loses only organisms
still training), saved exactly as the stable-baselines3 trainer saves one (SB3's parameter
names) and evaluated by the same code, on an SB3 model holding its weights.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bestiary.organisms.protocol import HANDOVER, SOURCE_DIR, UnitManifest, run_identity, shape_of
from bestiary.organisms.spec import ResolvedTrial
from bestiary.organisms.worker.trainer import Report, Trained, staged_trial

if TYPE_CHECKING:
    from bestiary.organisms.worker.population import Population


class PopulationTrainer:
    """Trains a unit's organisms together (see the module docstring and :class:`~.loop.Trainer`)."""

    name = "population"
    announces = True  # each organism is recorded by the host while the others train on

    def organisms(
        self, unit: UnitManifest, staging: Path, report: Report
    ) -> Iterator[tuple[str, Callable[[], Trained]]]:
        """Train the population; yield each organism at its checkpoint.

        Raises:
            ValueError: If the trials do not share one shape or one of them starts from an organism.
        """
        from bestiary.organisms.worker.handover import HandoverError
        from bestiary.organisms.worker.handover import save as save_handover
        from bestiary.organisms.worker.population import Member, Population

        trials = [staged_trial(staging, tid) for tid in unit.trials]
        if len({shape_of(t) for t in trials}) != 1 or any(t.init_from for t in trials):
            raise ValueError(
                "a population's trials must share algorithm, architecture and hyperparameters, and start fresh"
            )
        slot: dict[str, int] = {}  # training run → its organism in the population (in the manifest's order)
        members: list[Member] = []
        checkpoints: dict[int, list[int]] = {}
        handovers: dict[int, Path] = {}  # slot → the handover file its training run goes on from
        for t in trials:
            run = run_identity(t)
            if run not in slot:
                slot[run] = len(members)
                members.append(Member(t.env_id, dict(t.env_kwargs), t.seed, t.oversight))
            checkpoints.setdefault(slot[run], []).append(t.timesteps)
            if t.trial_id in unit.sources:
                handovers[slot[run]] = staging / t.trial_id / SOURCE_DIR / HANDOVER
        identity = {slot[run_identity(t)]: {"run": run_identity(t)} for t in trials}
        first = trials[0]

        def population() -> Population:
            hp = dict(first.hyperparameters)
            return Population(members, first.width, first.depth, first.activation, first.n_envs, hp)

        pop, resumed_from, note = population(), None, None
        if handovers:
            try:
                resumed_from = _resume(pop, handovers, identity, checkpoints)
            except (HandoverError, OSError) as exc:  # the run is trained from zero instead: the same organisms
                pop, note = population(), f"trained from zero: the handover was refused: {exc}"[:1000]
        start = time.perf_counter()
        for i, timesteps in pop.learn(checkpoints):
            seconds = time.perf_counter() - start
            state, rows, finite = pop.policy.state_dict_of(i), list(pop.curves[i].rows), bool(pop.alive[i])
            facts = {
                "population": pop.P,
                "resumed_from": resumed_from,
                "handover": note,
                "training_seconds": seconds,
                "timesteps": pop.num_timesteps,
                "params_torch": sum(v.numel() for v in state.values()),
                "steps_per_second": (pop.num_timesteps - pop.start_timesteps) / seconds,
            }
            for t in trials:
                if slot[run_identity(t)] == i and t.timesteps == timesteps:
                    yield (
                        t.trial_id,
                        _ready(t, state, rows, facts, finite, functools.partial(save_handover, pop, i, identity[i])),
                    )


def _ready(
    trial: ResolvedTrial,
    state: dict[str, Any],
    rows: list[Any],
    facts: dict[str, Any],
    finite: bool,
    handover: Callable[[], bytes],
) -> Callable[[], Trained]:
    """The call that hands one checkpoint's organism to the loop (evaluated on an SB3 model holding its weights)."""
    from bestiary.organisms.worker.sb3 import evaluation_model

    return lambda: Trained(trial, state, rows, dict(facts), lambda: evaluation_model(trial, state), handover, finite)


def _resume(
    pop: Population, files: dict[int, Path], identity: dict[int, dict[str, str]], checkpoints: dict[int, list[int]]
) -> int:
    """Put every organism back where its handover left it; return the timesteps it goes on from.

    Raises:
        HandoverError: If a handover is not its organism's, not all organisms have one at one
            point, or a budget asked for is not beyond it.
    """
    from bestiary.organisms.worker.handover import HandoverError, load, restore

    restore(pop, {i: load(path.read_bytes(), pop, i, identity[i]) for i, path in files.items()})
    for i, path in files.items():
        _same_as_recorded(pop, i, path.parent)
    timesteps = int(pop.num_timesteps)
    if any(budget <= timesteps for budgets in checkpoints.values() for budget in budgets):
        raise HandoverError(f"a budget asked for is not beyond the handover's {timesteps:,} timesteps")
    return timesteps


def _same_as_recorded(pop: Population, i: int, source: Path) -> None:
    """Check that organism ``i`` as handed over is the organism the host recorded at that budget (``source``).

    The handover is written by the unit before the seal, which could record one organism and hand over
    another under its identity; the host sends the recorded organism with the handover.

    Raises:
        HandoverError: If there is no recorded organism, or its weights differ from the handed-over ones.
    """
    import torch

    from bestiary.organisms.errors import OrganismFileError
    from bestiary.organisms.worker.handover import HandoverError
    from bestiary.organisms.worker.weights import load_organism

    try:
        recorded = load_organism(source)[1]
    except OrganismFileError as exc:
        raise HandoverError(f"no recorded organism to check the handover against: {exc}") from exc
    handed = pop.policy.state_dict_of(i)
    if set(recorded) != set(handed) or not all(torch.equal(recorded[k], handed[k]) for k in handed):
        raise HandoverError("the handed-over weights are not those of the organism recorded at that budget")


def benchmark(trials: list[ResolvedTrial], seconds: float) -> float:
    """Train the trials' runs as one population for about ``seconds`` (after one warm-up rollout and update).

    Returns:
        Steps per second of each organism (the population's organism-steps per second divided by its size).
    """
    from bestiary.organisms.worker.population import Member, Population

    first = trials[0]
    members = [Member(t.env_id, dict(t.env_kwargs), t.seed, t.oversight) for t in trials]
    pop = Population(members, first.width, first.depth, first.activation, first.n_envs, dict(first.hyperparameters))
    pop.update(pop.collect())
    start, before = time.perf_counter(), pop.num_timesteps
    while time.perf_counter() - start < seconds:
        pop.update(pop.collect())
    return (pop.num_timesteps - before) / (time.perf_counter() - start)
