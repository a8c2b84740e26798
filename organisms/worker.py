"""The program that runs inside the sandbox: train and/or evaluate one organism.

``python -m bestiary.organisms.worker train RUN_DIR [--evaluate] [--from SOURCE_RUN_DIR]``
``python -m bestiary.organisms.worker evaluate RUN_DIR``

It reads ``RUN_DIR/trial.json`` (written by the host), writes the organism files,
``train.csv``, ``worker-<command>.json`` (facts and package versions) and, when
evaluating, ``metrics.json``. Progress goes to stdout as lines ``@progress {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bestiary.organisms.protocol import PROGRESS_PREFIX, package_versions


def report(progress: dict[str, Any]) -> None:
    """Send a progress line to the host."""
    print(PROGRESS_PREFIX + json.dumps(progress), flush=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point inside the sandbox."""
    parser = argparse.ArgumentParser(prog="bestiary.organisms.worker")
    parser.add_argument("command", choices=("train", "evaluate"))
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--evaluate", action="store_true", help="evaluate after training")
    parser.add_argument("--from", dest="source", type=Path, help="run directory of the organism to continue")
    args = parser.parse_args(argv)

    from bestiary.organisms.evaluate import evaluate
    from bestiary.organisms.files import load_organism, save_organism, write_json_atomic
    from bestiary.organisms.spec import ResolvedTrial
    from bestiary.organisms.train import build_model, make_training_env, train

    run_dir: Path = args.run_dir
    trial = ResolvedTrial.model_validate(json.loads((run_dir / "trial.json").read_text()))
    info: dict[str, Any] = {"versions": package_versions(), "started": time.time()}
    if args.command == "train":
        init_state = load_organism(args.source)[1] if args.source else None
        model, facts = train(trial, run_dir, report, init_state)
        info.update(facts)
        arch = {
            "algo": trial.algo,
            "width": trial.width,
            "depth": trial.depth,
            "activation": trial.activation,
            "obs_dim": trial.obs_dim,
            "n_actions": trial.n_actions,
            "params": facts["params_torch"],
            "env_id": trial.env_id,
            "trial_id": trial.trial_id,
        }
        save_organism(run_dir, model.policy.state_dict(), arch)
    else:
        _, state = load_organism(run_dir)
        model = build_model(trial, make_training_env(trial))
        model.policy.load_state_dict(state)
    if args.command == "evaluate" or args.evaluate:
        start = time.perf_counter()
        metrics = evaluate(model, trial)
        info["evaluation_seconds"] = time.perf_counter() - start
        write_json_atomic(run_dir / "metrics.json", metrics)
    write_json_atomic(run_dir / f"worker-{args.command}.json", info)


if __name__ == "__main__":
    sys.exit(main())
