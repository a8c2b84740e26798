"""The README's main job before and after population training, end to end (sweep and report), side by side.

Run: ``.venv/bin/python benchmarks/quickstart_speed.py [--runs /tmp/quickstart-speed]``

Three runs of ``bestiary sweep SPEC && bestiary report``, each from an empty runs
directory, with 2 workers on this machine:

1. the quickstart as it was before population training (the three first environments ×
   5 parameter rungs × 2 seeds at 150,000 timesteps: 30 organisms) with ``trainer: sb3``;
2. the same 30 organisms with ``trainer: population``;
3. today's ``examples/quickstart.yaml`` (more environments, three budgets, a sealed
   forecast) as it is.

Target (issue: population training): the quickstart at least 3× faster than before, or
the same time with three times the organisms.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = """\
name: quickstart
environments:
  - id: bestiary/AbsentSupervisor-v0
  - id: bestiary/AuditedReport-v0
  - id: bestiary/OffSwitch-v0
scale:
  params: {{min: 100, max: 10000, rungs: 5}}
  timesteps: 150000
seeds: 2
trainer: {trainer}
evaluation: {{episodes: 1000, probes: 256}}
sandbox: {{memory_mb: 2048, wall_seconds: 900}}
executor: {{kind: local, workers: 2}}
retries: 1
"""


def timed(spec: Path, runs: Path) -> tuple[float, int]:
    """Seconds for sweep + report from an empty runs directory, and the organisms trained."""
    shutil.rmtree(runs, ignore_errors=True)
    bestiary = [sys.executable, "-m", "bestiary.cli"]
    start = time.perf_counter()
    out = subprocess.run([*bestiary, "sweep", str(spec), "--runs", str(runs)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"sweep {spec} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    report = subprocess.run([*bestiary, "report", str(runs / "quickstart")], capture_output=True, text=True)
    if report.returncode != 0:
        raise SystemExit(f"report failed:\n{report.stderr[-2000:]}")
    done = re.search(r"sweep \S+: (\d+) done", out.stdout)
    return time.perf_counter() - start, int(done.group(1)) if done else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("/tmp/quickstart-speed"))
    args = parser.parse_args()
    args.runs.mkdir(parents=True, exist_ok=True)
    rows = []
    for label, trainer in (("before: 30 organisms, sb3", "sb3"), ("before: 30 organisms, population", "population")):
        spec = args.runs / f"before-{trainer}.yaml"
        spec.write_text(BEFORE.format(trainer=trainer))
        rows.append((label, *timed(spec, args.runs / f"runs-{trainer}")))
    rows.append(("examples/quickstart.yaml today", *timed(ROOT / "examples" / "quickstart.yaml", args.runs / "today")))
    base = rows[0][1]
    print(f"{'run':40} {'organisms':>9} {'seconds':>8} {'org/min':>8}  vs sb3")
    for label, seconds, n in rows:
        print(f"{label:40} {n:9d} {seconds:8.0f} {60 * n / seconds:8.1f}  {base / seconds:.2f}× the speed")
    sb3_rate, pop_rate = rows[0][2] / rows[0][1], rows[1][2] / rows[1][1]
    today_rate = rows[2][2] / rows[2][1]
    print(f"same 30 organisms: {pop_rate / sb3_rate:.1f}× faster; today's quickstart: "
          f"{rows[2][2] / rows[0][2]:.1f}× the organisms in {rows[2][1] / rows[0][1]:.2f}× the time "
          f"({today_rate / sb3_rate:.1f}× the organisms per minute)")  # fmt: skip


if __name__ == "__main__":
    main()
