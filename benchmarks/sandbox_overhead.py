"""What the sandbox costs: start-up and training under bubblewrap and gVisor, against no sandbox, side by side.

Run: ``.venv/bin/python benchmarks/sandbox_overhead.py [--repeats 5] [--minutes 2]``

Three measurements, each interleaved across no sandbox, ``bwrap`` and ``gvisor`` (full
default policies: namespaces or the user-space kernel, a new cgroup, rlimits, the disk
quota, seccomp and Landlock for bubblewrap, output capture, the audit record), medians
compared:

1. start-up: ``python -c "import torch"``, ``--repeats`` times;
2. the training loop: a population of 16 organisms of ~1e4 parameters, its rate measured
   inside the process around the training loop alone (start-up excluded);
3. a training process of about ``--minutes`` minutes (the same population, more steps):
   its whole wall time, start-up included.

Targets: bwrap ≤ 1.05× on the training loop; gVisor ≤ 1.15× on the training loop and
≤ 1.3× in wall time for a process of ≥ 2 minutes; gVisor's start-up stated.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bestiary.sandbox import Limits, Policy, run

STARTUP = [sys.executable, "-c", "import torch"]
TRAIN = r"""
import json, sys, time
from bestiary.organisms.worker.population import Member, Population
from bestiary.organisms.spec import TrialSpec, resolve
t = resolve(TrialSpec(env_id="bestiary/AbsentSupervisor-v0", params=10000))
pop = Population([Member(t.env_id, {}, s) for s in range(16)], t.width, t.depth, "relu", 64, dict(t.hyperparameters))
pop.update(pop.collect())
start, n0 = time.perf_counter(), pop.num_timesteps
while pop.num_timesteps - n0 < int(sys.argv[1]):
    pop.update(pop.collect())
print(json.dumps({"rate": 16 * (pop.num_timesteps - n0) / (time.perf_counter() - start)}))
"""
WAYS = ("none", "bwrap", "gvisor")


def timed(way: str, command: list[str], base: Path) -> tuple[float, bytes]:
    """Wall seconds and stdout of ``command`` run ``way``."""
    start = time.perf_counter()
    if way == "none":
        out = subprocess.run(command, check=True, capture_output=True).stdout
        return time.perf_counter() - start, out
    work = Path(tempfile.mkdtemp(dir=base))
    work.chmod(0o755)
    result = run(command, work / "w", Policy(limits=Limits(wall_seconds=7200, cpu_seconds=7200)), backend=way)
    elapsed = time.perf_counter() - start
    shutil.rmtree(work, ignore_errors=True)
    if not result.ok:
        raise SystemExit(f"{way}: {result.reason}: {result.stderr.decode()[-800:]}")
    return elapsed, result.stdout


def rate(stdout: bytes) -> float:
    return float(json.loads(stdout.decode().strip().splitlines()[-1])["rate"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=2.0)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bestiary-bench-"))
    base.chmod(0o755)
    try:
        for way in WAYS:  # warm-up: page cache, runsc's first start
            timed(way, STARTUP, base)
        startup: dict[str, list[float]] = {w: [] for w in WAYS}
        loop: dict[str, list[float]] = {w: [] for w in WAYS}
        for _ in range(args.repeats):
            for way in WAYS:
                startup[way].append(timed(way, STARTUP, base)[0])
                loop[way].append(rate(timed(way, [sys.executable, "-c", TRAIN, "40000"], base)[1]))
        # A process of about --minutes minutes: steps from the loop rate measured without a sandbox.
        steps = int(statistics.median(loop["none"]) / 16 * args.minutes * 60)
        wall = {w: timed(w, [sys.executable, "-c", TRAIN, str(steps)], base)[0] for w in WAYS}
    finally:
        shutil.rmtree(base, ignore_errors=True)
    s = {w: statistics.median(v) for w, v in startup.items()}
    r = {w: statistics.median(v) for w, v in loop.items()}
    print(f"1. start-up, python -c 'import torch', median of {args.repeats}:")
    for w in WAYS:
        print(f"   {w:7} {s[w]:6.2f} s  {s[w] / s['none']:5.2f}×  (+{s[w] - s['none']:.2f} s)")
    print(f"2. training loop (population of 16 × ~1e4 parameters), organism-steps/s, median of {args.repeats}:")
    for w in WAYS:
        target = {"bwrap": " (target ≤ 1.05×)", "gvisor": " (target ≤ 1.15×)"}.get(w, "")
        print(f"   {w:7} {r[w]:>9,.0f}  {r['none'] / r[w]:5.2f}× slower{target}")
    print(f"3. a training process of {wall['none'] / 60:.1f} minutes without a sandbox ({steps:,} steps per organism):")
    for w in WAYS:
        target = " (target ≤ 1.3×)" if w == "gvisor" else ""
        print(f"   {w:7} {wall[w]:7.1f} s  {wall[w] / wall['none']:5.2f}×{target}")


if __name__ == "__main__":
    main()
