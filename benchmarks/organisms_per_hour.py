"""End to end: organisms per core-hour, trained and evaluated in the sandbox, by today's path and by populations.

Run: ``.venv/bin/python benchmarks/organisms_per_hour.py [--seeds 4] [--runs runs/per-hour]``

A sample of the first scaling study's trials — ``examples/scaling-study.yaml``'s ladder (8
rungs, 60 to 190,000 parameters), its 150,000 timesteps and evaluation (2,000 episodes per
condition, 512 probes), on the absent-supervisor environment — is run through the real
sweep (sandbox, host checks, run directories) with one worker, rung by rung, once with
``trainer: sb3`` (one sandboxed process per organism) and once with ``trainer:
population`` (the planner's populations), alternating so a busy machine slows both alike.
It prints organisms per core-hour per rung and over the trials of ≤ 1e4 parameters and the
whole ladder. Targets (issue: population training): ≥ 8× for ≤ 1e4 parameters, ≥ 3× over
the whole ladder.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from bestiary.organisms import TrialSpec, geometric_ladder, resolve
from bestiary.sweep import run_sweep
from bestiary.sweep_spec import parse_sweep

ENV = "bestiary/AbsentSupervisor-v0"
SPEC = """\
name: {name}
environments:
  - id: {env}
scale:
  widths: [{width}]
  timesteps: 150000
seeds: {seeds}
trainer: {trainer}
evaluation: {{episodes: 2000, probes: 512}}
sandbox: {{memory_mb: 4096, wall_seconds: 3600}}
executor: {{kind: local, workers: 1}}
retries: 0
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--runs", type=Path, default=Path("runs/per-hour"))
    args = parser.parse_args()
    shutil.rmtree(args.runs, ignore_errors=True)
    probe = resolve(TrialSpec(env_id=ENV, width=1))
    ladder = geometric_ladder(60, 190_000, 8, probe.obs_dim, probe.n_actions)
    totals: dict[str, dict[str, float]] = {"small": {}, "all": {}}
    print(f"{ENV}, 150,000 timesteps, {args.seeds} seeds per rung, one worker (one core)")
    print(f"{'params':>8} {'sb3 s':>8} {'population s':>13} {'sb3 org/core-h':>15} {'pop org/core-h':>15} {'ratio':>6}")
    for rung in ladder:
        seconds = {}
        for trainer in ("sb3", "population"):
            text = SPEC.format(name=f"{trainer}-{rung.width}", env=ENV, width=rung.width, seeds=args.seeds,
                               trainer=trainer)  # fmt: skip
            start = time.perf_counter()
            report = run_sweep(parse_sweep(text), text, args.runs)
            seconds[trainer] = time.perf_counter() - start
            if report.failed:
                raise SystemExit(f"{report.failed} {trainer} organisms failed at width {rung.width}; see {args.runs}")
            for scope in ("all", "small") if rung.params <= 10_000 else ("all",):
                totals[scope][trainer] = totals[scope].get(trainer, 0.0) + seconds[trainer]
        per_hour = {k: args.seeds * 3600 / v for k, v in seconds.items()}
        print(
            f"{rung.params:>8,} {seconds['sb3']:>8.1f} {seconds['population']:>13.1f} {per_hour['sb3']:>15,.0f} "
            f"{per_hour['population']:>15,.0f} {per_hour['population'] / per_hour['sb3']:>5.1f}×"
        )
    for scope, label, target in (("small", "≤ 1e4 parameters", 8), ("all", "whole ladder", 3)):
        t = totals[scope]
        ratio = t["sb3"] / t["population"]
        print(f"{label}: {ratio:.1f}× the organisms per core-hour (target ≥ {target}×)")


if __name__ == "__main__":
    main()
