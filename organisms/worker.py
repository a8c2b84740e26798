"""The program that runs inside the sandbox: train and/or evaluate the organisms of one unit.

``python -m bestiary.organisms.worker STAGING_DIR``

It reads ``STAGING_DIR/unit.json`` (written by the host: the command, the trainer, the
trial ids) and, per organism, ``STAGING_DIR/<trial-id>/trial.json`` and the organism to
start from (``source/organism/``), and writes beside them the organism files,
``train.csv``, ``metrics.json`` when evaluating, and ``worker.json`` (facts and package
versions, or the error that stopped that organism). One organism's failure does not stop
the others. Progress goes to stdout as lines ``@progress {json}``.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bestiary.organisms.protocol import PROGRESS_PREFIX, UNIT_FILE, WORKER_FILE, package_versions


def report(progress: dict[str, Any]) -> None:
    """Send a progress line to the host."""
    print(PROGRESS_PREFIX + json.dumps(progress), flush=True)


def _write_json(path: Path, obj: Any) -> None:
    from bestiary.organisms.files import write_json_atomic

    write_json_atomic(path, obj)


def run_one(command: str, evaluate_after: bool, trial_dir: Path, source: Path | None) -> dict[str, Any]:
    """Train and/or evaluate one organism with stable-baselines3; return the worker's facts."""
    from bestiary.organisms.evaluate import evaluate
    from bestiary.organisms.files import load_organism, save_organism
    from bestiary.organisms.spec import ResolvedTrial
    from bestiary.organisms.train import architecture_json, evaluation_model, train

    trial = ResolvedTrial.model_validate(json.loads((trial_dir / "trial.json").read_text()))
    info: dict[str, Any] = {"versions": package_versions(), "started": time.time()}

    def progress(p: dict[str, Any]) -> None:
        report({**p, "trial": trial.trial_id})

    if command == "train":
        init_state = load_organism(source)[1] if source else None
        model, facts = train(trial, trial_dir, progress, init_state)
        info.update(facts)
        save_organism(trial_dir, model.policy.state_dict(), architecture_json(trial, facts["params_torch"]))
    else:
        assert source is not None, "evaluate needs the organism"
        model = evaluation_model(trial, load_organism(source)[1])
    if command == "evaluate" or evaluate_after:
        start = time.perf_counter()
        metrics = evaluate(model, trial)
        info["evaluation_seconds"] = time.perf_counter() - start
        _write_json(trial_dir / "metrics.json", metrics)
    return info


def run_benchmark(trial_dir: Path, seconds: float) -> dict[str, Any]:
    """Train one organism for about ``seconds`` (after one warm-up rollout); return its training rate."""
    import torch

    from bestiary.organisms.spec import ResolvedTrial
    from bestiary.organisms.train import build_model, make_training_env

    torch.set_num_threads(1)
    trial = ResolvedTrial.model_validate(json.loads((trial_dir / "trial.json").read_text()))
    model = build_model(trial, make_training_env(trial))
    chunk = trial.n_envs * int(trial.hyperparameters.get("n_steps", 32))
    model.learn(chunk)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        model.learn(chunk, reset_num_timesteps=False)
        steps += chunk
    return {"versions": package_versions(), "steps_per_second": steps / (time.perf_counter() - start)}


def main(argv: list[str] | None = None) -> int:
    """Entry point inside the sandbox; exit 1 if any organism failed."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bestiary.organisms.worker STAGING_DIR", file=sys.stderr)
        return 2
    staging = Path(args[0])
    unit = json.loads((staging / UNIT_FILE).read_text())
    sources = unit.get("from", {})
    failed = 0
    if unit["trainer"] == "population" and unit["command"] == "train":
        from bestiary.organisms.population_worker import run_population

        return run_population(staging, unit)
    for tid in unit["trials"]:
        trial_dir = staging / tid
        source = trial_dir / sources[tid] if tid in sources else None
        try:
            if unit["command"] == "benchmark":
                info = run_benchmark(trial_dir, float(unit["seconds"]) / len(unit["trials"]))
            else:
                info = run_one(unit["command"], unit["evaluate"], trial_dir, source)
        except Exception as exc:  # one organism's failure is recorded, and the others go on
            failed += 1
            info = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}
            print(info["traceback"], file=sys.stderr)
        _write_json(trial_dir / WORKER_FILE, info)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
