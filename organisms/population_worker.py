"""Inside the sandbox: train a unit's organisms as one population, then save and evaluate each on its own.

The unit's trials share an architecture and hyperparameters; they differ in environment
(knobs), seed and training budget. Trials that differ *only* in their budget are one
training run: with a constant learning rate, SB3's ``learn(T)`` for a seed is exactly the
first ``T`` timesteps of the same seed's longer run, so the run is handed over at each
budget (a checkpoint) and every checkpoint becomes its own organism — its weights, its
``train.csv`` up to that point, its evaluation. Each organism is saved, evaluated and
reported as soon as it reaches its budget (so the host can record it at once: a killed
sweep loses only organisms still training), exactly as the stable-baselines3 trainer
saves one (SB3's parameter names, so ``bestiary evaluate`` and
``PPO.policy.load_state_dict`` load it) and evaluated by the same code, on an SB3 model
holding its weights. One organism's failure (a non-finite loss: ``nan``) is recorded in
its ``worker.json`` and does not stop the others.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bestiary.organisms.protocol import HANDOVER, TRAIN_COLUMNS, WORKER_FILE, package_versions

_SHAPE = ("algo", "width", "depth", "activation", "n_envs", "obs_dim", "n_actions", "hyperparameters")


def _write_json(path: Path, obj: Any) -> None:
    from bestiary.organisms.files import write_json_atomic

    write_json_atomic(path, obj)


def _train_csv(rows: list[dict[str, float]]) -> str:
    lines = [",".join(TRAIN_COLUMNS)]
    for r in rows:
        cells = [str(int(r[c])) if c in ("timesteps", "episodes") else f"{r[c]:.6g}" for c in TRAIN_COLUMNS]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def run_population(staging: Path, unit: dict[str, Any]) -> int:
    """Train, save and evaluate the unit's organisms; exit status 1 if any failed."""
    import torch

    from bestiary.organisms.evaluate import evaluate
    from bestiary.organisms.files import save_organism, write_atomic
    from bestiary.organisms.handover import HandoverError
    from bestiary.organisms.handover import save as save_handover
    from bestiary.organisms.population import Member, Population
    from bestiary.organisms.spec import ResolvedTrial
    from bestiary.organisms.train import architecture_json, evaluation_model

    report = _reporter()
    trials = [
        ResolvedTrial.model_validate(json.loads((staging / t / "trial.json").read_text())) for t in unit["trials"]
    ]
    shapes = {json.dumps([getattr(t, k) for k in _SHAPE], sort_keys=True) for t in trials}
    if len(shapes) != 1 or any(t.init_from for t in trials):
        raise ValueError(
            "a population's trials must share algorithm, architecture and hyperparameters, and start fresh"
        )
    members: list[Member] = []
    slot: dict[tuple, int] = {}
    checkpoints: dict[int, list[int]] = {}
    handovers: dict[int, Path] = {}  # slot → the handover file its training run goes on from
    sources, hand_over = unit.get("from", {}), set(unit.get("hand_over", []))
    for t in trials:
        key = _stream(t)
        if key not in slot:
            slot[key] = len(members)
            members.append(Member(t.env_id, dict(t.env_kwargs), t.seed, t.oversight))
        checkpoints.setdefault(slot[key], []).append(t.timesteps)
        if t.trial_id in sources:
            handovers[slot[key]] = staging / t.trial_id / sources[t.trial_id] / HANDOVER
    shape = json.loads(shapes.pop())  # the one shape (checked above): a handover must be of it and of its run
    identity = {slot[_stream(t)]: {"stream": list(_stream(t)), "shape": shape} for t in trials}
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
    failed = 0

    def finish(
        t: ResolvedTrial, i: int, state: dict[str, torch.Tensor], rows: list[dict[str, float]], alive: bool
    ) -> int:
        """Save, evaluate and report one organism (at its checkpoint, while the others train on)."""
        trial_dir = staging / t.trial_id
        seconds = time.perf_counter() - start
        info: dict[str, Any] = {"versions": package_versions(), "started": start, "population": pop.P}
        info |= {"resumed_from": resumed_from, "handover": note}
        try:
            if not alive:
                raise FloatingPointError("a parameter became non-finite (nan or inf) during training")
            (trial_dir / "train.csv").write_text(_train_csv(rows))
            params = sum(v.numel() for v in state.values())
            save_organism(trial_dir, state, architecture_json(t, params))
            info.update(
                training_seconds=seconds,
                timesteps=pop.num_timesteps,
                params_torch=params,
                steps_per_second=(pop.num_timesteps - pop.start_timesteps) / seconds,
            )
            if t.trial_id in hand_over:  # written before the host hears the organism is done
                try:
                    write_atomic(trial_dir / HANDOVER, save_handover(pop, i, identity[i]))
                except (ValueError, OSError) as exc:  # the next process trains the run from zero
                    info["handover"] = f"not written: {exc}"[:1000]
            if unit["evaluate"]:
                began = time.perf_counter()
                _write_json(trial_dir / "metrics.json", evaluate(evaluation_model(t, state), t))
                info["evaluation_seconds"] = time.perf_counter() - began
            status = 0
        except FloatingPointError as exc:
            info = {"error": str(exc), "reason": "nan", "versions": info["versions"]}
            status = 1
        except Exception as exc:  # one organism's failure is recorded, and the others go on
            info = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}
            print(info["traceback"], file=sys.stderr)
            status = 1
        _write_json(trial_dir / WORKER_FILE, info)
        report({"trial": t.trial_id, "event": "done"})  # the host may record it now
        return status

    def on_checkpoint(i: int, timesteps: int) -> None:
        nonlocal failed
        state, rows, alive = pop.policy.state_dict_of(i), list(pop.curves[i].rows), bool(pop.alive[i])
        for t in trials:
            if slot[_stream(t)] == i and t.timesteps == timesteps:
                failed += finish(t, i, state, rows, alive)

    pop.learn(checkpoints, on_checkpoint)
    return 1 if failed else 0


def _resume(pop: Any, files: dict[int, Path], identity: dict[int, Any], checkpoints: dict[int, list[int]]) -> int:
    """Put every organism back where its handover left it; return the timesteps it goes on from.

    Raises:
        HandoverError: If a handover is not its organism's, not all organisms have one at one
            point, or a budget asked for is not beyond it.
    """
    from bestiary.organisms.handover import HandoverError, load, restore

    restore(pop, {i: load(path.read_bytes(), pop, i, identity[i]) for i, path in files.items()})
    if any(budget <= pop.num_timesteps for budgets in checkpoints.values() for budget in budgets):
        raise HandoverError(f"a budget asked for is not beyond the handover's {pop.num_timesteps:,} timesteps")
    return int(pop.num_timesteps)


def _stream(t: Any) -> tuple:
    return (t.env_id, json.dumps(t.env_kwargs, sort_keys=True), t.seed, t.oversight)


def _reporter() -> Callable[[dict[str, Any]], None]:
    from bestiary.organisms.worker import report

    return report
