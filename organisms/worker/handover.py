"""A population organism's whole training state at a checkpoint, handed from one process to the next.

A sweep with a sealed forecast trains the smaller budgets of a training run before the
seal and the larger ones after it. So that the run is not trained again from zero after
the seal, the process before it writes, at the run's last budget there, everything the
run needs to go on — weights, Adam's moments and step count, the torch generator, every
environment copy's state and generator, the last observations and episode starts, the
learning curve — and the process after the seal puts it back into a population that then
trains on. The organism at the larger budget is the one an unsplit run makes (bit for bit
in the same place of the same population: tested).

The file is written inside one sandbox and read inside another: hostile input to the
reader. It is safetensors (never pickle), its metadata bounded JSON, every tensor's name,
dtype and shape is checked against the state this organism must have, and its identity —
the training run and the population's shape — against the trial's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bestiary.organisms.protocol import HANDOVER_FORMAT as FORMAT
from bestiary.organisms.protocol import TRAIN_COLUMNS, TrainRow

if TYPE_CHECKING:
    from bestiary.organisms.worker.population import Population


class HandoverError(ValueError):
    """A handover file that is not this organism's state (or not a handover file at all)."""


@dataclass(frozen=True)
class Handover:
    """One organism's checked state, ready to be put back."""

    tensors: dict[str, torch.Tensor]
    generators: list[dict[str, Any]]

    @property
    def timesteps(self) -> int:
        """Timesteps the organism had trained."""
        return int(self.tensors["timesteps"])


def state_of(pop: Population, i: int) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Organism ``i``'s training state as named tensors, and its environment copies' generator states."""
    sim, rows = pop.rows_of(i)
    arrays, generators = sim.state_of(rows)
    opt = pop.optimizer
    tensors: dict[str, torch.Tensor] = {}
    for k, p in enumerate(pop.policy.parameters()):
        tensors[f"param.{k}"] = p[i].clone()
        tensors[f"adam.exp_avg.{k}"] = opt.exp_avgs[k][i].clone()
        tensors[f"adam.exp_avg_sq.{k}"] = opt.exp_avg_sqs[k][i].clone()
    curve = pop.curves[i]
    tensors |= {
        "adam.step": opt.steps[0].clone(),
        "generator": pop.generators[i].get_state(),
        "obs": pop.last_obs[i].clone(),
        "starts": pop.episode_starts[i].clone(),
        "alive": pop.alive[i].clone(),
        "timesteps": torch.tensor(pop.num_timesteps, dtype=torch.int64),
        "episodes": torch.tensor(curve.episodes, dtype=torch.int64),
        "curve": torch.tensor(
            [[getattr(r, c) for c in TRAIN_COLUMNS] for r in curve.rows], dtype=torch.float64
        ).reshape(len(curve.rows), len(TRAIN_COLUMNS)),
    }
    tensors |= {f"sim.{name}": torch.from_numpy(np.ascontiguousarray(a)) for name, a in arrays.items()}
    return tensors, generators


def save(pop: Population, i: int, identity: dict[str, Any]) -> bytes:
    """Organism ``i``'s state as the bytes of a handover file; ``identity`` says whose (checked on reading)."""
    from safetensors.torch import save

    tensors, generators = state_of(pop, i)
    meta = {"format": FORMAT, "identity": json.dumps(identity, sort_keys=True), "generators": json.dumps(generators)}
    return save({k: v.contiguous() for k, v in tensors.items()}, metadata=meta)


def load(data: bytes, pop: Population, i: int, identity: dict[str, Any]) -> Handover:
    """Read and check a handover file for organism ``i`` of ``pop`` (a fresh population of the same shape).

    Raises:
        HandoverError: Saying what does not match.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    from bestiary.sandbox.outputs import MalformedOutputError, parse_json

    try:
        tensors = load(data)
        header = parse_json(data[8 : 8 + int.from_bytes(data[:8], "little")], max_bytes=16 * 1024 * 1024)
        meta = header.get("__metadata__", {}) if isinstance(header, dict) else {}
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise HandoverError(f"not a {FORMAT} file")
        theirs = parse_json(str(meta.get("identity", "")), max_bytes=64 * 1024, max_depth=8)
        generators = parse_json(str(meta.get("generators", "")), max_bytes=1024 * 1024, max_depth=4)
    except (SafetensorError, MalformedOutputError, ValueError) as exc:
        raise HandoverError(f"unreadable handover: {str(exc)[:300]}") from exc
    if theirs != json.loads(json.dumps(identity, sort_keys=True)):
        raise HandoverError("the handover is another training run's (its stream or shape differs from the trial's)")
    expected, expected_generators = state_of(pop, i)
    if set(tensors) != set(expected):
        raise HandoverError(f"the handover holds tensors {sorted(set(tensors) ^ set(expected))[:5]} it should not")
    for name, want in expected.items():
        got = tensors[name]
        same_shape = got.shape == want.shape or (name == "curve" and got.shape[1:] == want.shape[1:])
        if got.dtype != want.dtype or not same_shape:
            raise HandoverError(f"{name} is {got.dtype}{list(got.shape)}, expected {want.dtype}{list(want.shape)}")
    if not (isinstance(generators, list) and len(generators) == len(expected_generators)):
        raise HandoverError("the handover's environment generators do not match its copies")
    if not all(isinstance(g, dict) for g in generators):
        raise HandoverError("a generator state is not a table")
    return Handover(tensors, generators)


def row_of(values: list[float]) -> TrainRow:
    """A learning-curve row from the handover's float64 curve (counts were whole numbers when saved)."""
    row = dict(zip(TRAIN_COLUMNS, values, strict=True))
    return TrainRow(**{**row, "timesteps": int(row["timesteps"]), "episodes": int(row["episodes"])})


def restore(pop: Population, states: dict[int, Handover]) -> None:
    """Put every organism of a fresh population back where its handover left it.

    Raises:
        HandoverError: If not every organism has one, or they were not all taken at one point of training.
    """
    if set(states) != set(range(pop.P)):
        raise HandoverError("a population goes on from handovers only if every organism has one")
    points = {(h.timesteps, float(h.tensors["adam.step"])) for h in states.values()}
    if len(points) != 1:
        raise HandoverError(f"the handovers were taken at different points of training: {sorted(points)[:4]}")
    ((timesteps, step),) = points
    opt = pop.optimizer
    with torch.no_grad():
        for i, h in states.items():
            t = h.tensors
            for k, p in enumerate(pop.policy.parameters()):
                p[i] = t[f"param.{k}"]
                opt.exp_avgs[k][i] = t[f"adam.exp_avg.{k}"]
                opt.exp_avg_sqs[k][i] = t[f"adam.exp_avg_sq.{k}"]
            pop.generators[i].set_state(t["generator"])
            pop.last_obs[i], pop.episode_starts[i], pop.alive[i] = t["obs"], t["starts"], t["alive"]
            sim, rows = pop.rows_of(i)
            arrays = {name[4:]: v.numpy() for name, v in t.items() if name.startswith("sim.")}
            try:
                sim.restore(rows, arrays, h.generators)
            except ValueError as exc:
                raise HandoverError(f"organism {i}'s environments: {exc}") from exc
            pop.curves[i].rows = [row_of(r) for r in t["curve"].tolist()]
            pop.curves[i].episodes = int(t["episodes"])
        for s in opt.steps:
            s.fill_(step)
    pop.num_timesteps = pop.start_timesteps = timesteps
