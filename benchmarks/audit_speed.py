"""``bestiary audit`` on the README's main job, timed beside the main job itself.

Run: ``.venv/bin/python benchmarks/audit_speed.py [--runs /tmp/audit-speed]``

Trains the quickstart (``examples/quickstart.yaml``: 90 organisms) from an empty runs directory,
then audits every organism with every registered detector in the sandbox (from an empty output
directory, so nothing is reused), and prints both times and their ratio.

Target (issue: the detection benchmark): the audit of the quickstart's organisms in under 2 minutes on
2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BESTIARY = [sys.executable, "-m", "bestiary.cli"]


def timed(args: list[str]) -> float:
    """Seconds one ``bestiary`` command takes (it must succeed)."""
    start = time.perf_counter()
    out = subprocess.run([*BESTIARY, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bestiary {' '.join(args)} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("/tmp/audit-speed"))
    args = parser.parse_args()
    shutil.rmtree(args.runs, ignore_errors=True)
    args.runs.mkdir(parents=True)
    args.runs.chmod(0o755)  # the sandbox's uid reads the organisms
    sweep = timed(["sweep", str(ROOT / "examples" / "quickstart.yaml"), "--runs", str(args.runs)])
    audit = timed(["audit", str(args.runs / "quickstart"), "--out", str(args.runs / "audit")])
    print(f"quickstart sweep (90 organisms): {sweep:6.1f} s")
    print(f"audit, every detector:           {audit:6.1f} s  ({audit / sweep:.2f} × the sweep)")
    print(f"target: audit under 120 s — {'met' if audit < 120 else 'NOT met'}")


if __name__ == "__main__":
    main()
