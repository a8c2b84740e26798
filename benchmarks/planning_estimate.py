"""The dry run's time estimate against the sweep's measured wall time, side by side.

Run: ``.venv/bin/python benchmarks/planning_estimate.py [--runs /tmp/planning-estimate] [SPEC ...]``

For each spec (default: ``examples/quickstart.yaml``), from an empty runs directory:
``bestiary sweep SPEC --dry-run --json`` (the estimate, with the training rates it measures
in the sandbox), then ``bestiary sweep SPEC`` timed from start to end. Prints the
estimate, the measurement and their ratio. Target (the phased-study issue): within ×1.5
on the quickstart and on one larger spec.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BESTIARY = [sys.executable, "-m", "bestiary.cli"]


def estimate_and_measure(spec: Path, runs: Path) -> tuple[float, float]:
    """(estimated minutes, measured minutes) of one spec's sweep from an empty runs directory."""
    shutil.rmtree(runs, ignore_errors=True)
    dry = subprocess.run([*BESTIARY, "sweep", str(spec), "--runs", str(runs), "--dry-run", "--json"],
                         capture_output=True, text=True)  # fmt: skip
    if dry.returncode != 0:
        raise SystemExit(f"dry run of {spec} failed:\n{dry.stdout[-2000:]}{dry.stderr[-2000:]}")
    estimate = float(json.loads(dry.stdout)["estimated_minutes"])
    start = time.perf_counter()  # the dry run's throughput cache stays: the sweep does not use it
    out = subprocess.run([*BESTIARY, "sweep", str(spec), "--runs", str(runs)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"sweep {spec} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return estimate, (time.perf_counter() - start) / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", type=Path, default=[ROOT / "examples" / "quickstart.yaml"])
    parser.add_argument("--runs", type=Path, default=Path("/tmp/planning-estimate"))
    args = parser.parse_args()
    print(f"{'spec':<40} {'estimate min':>12} {'measured min':>12} {'measured/estimate':>18}")
    for spec in args.specs:
        estimate, measured = estimate_and_measure(spec, args.runs)
        ratio = measured / estimate if estimate > 0 else float("inf")
        verdict = "within ×1.5" if 1 / 1.5 <= ratio <= 1.5 else "NOT within ×1.5"
        print(f"{spec.name:<40} {estimate:>12.2f} {measured:>12.2f} {ratio:>17.2f}×  {verdict}")


if __name__ == "__main__":
    main()
