"""Start-up cost of the sandbox: ``python -c "import torch"`` inside vs outside, side by side.

Run: ``.venv/bin/python benchmarks/sandbox_overhead.py [--repeats 7]``

The two are interleaved (outside, inside, outside, ...) after one warm-up each, so both
see the same page cache and machine load; the medians are compared. Inside means the
full default policy: bubblewrap namespaces, a new cgroup, rlimits, seccomp, Landlock,
the uid drop, output capture, and the audit record with output hashing. Target: ≤ 1.15×.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bestiary.sandbox import run

COMMAND = [sys.executable, "-c", "import torch"]


def outside() -> float:
    start = time.perf_counter()
    subprocess.run(COMMAND, check=True)
    return time.perf_counter() - start


def inside(workdir: Path) -> float:
    start = time.perf_counter()
    result = run(COMMAND, workdir)
    elapsed = time.perf_counter() - start
    if not result.ok:
        raise SystemExit(f"sandboxed run failed: {result.reason}: {result.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bestiary-bench-") as tmp:
        Path(tmp).chmod(0o755)
        workdir = Path(tmp) / "work"
        outside(), inside(workdir)  # warm-up
        out, ins = [], []
        for _ in range(args.repeats):
            out.append(outside())
            ins.append(inside(workdir))
    o, i = statistics.median(out), statistics.median(ins)
    print(f"python -c 'import torch', median of {args.repeats}:")
    print(f"  outside the sandbox  {o:.3f} s")
    print(f"  inside the sandbox   {i:.3f} s  (+{(i - o) * 1000:.0f} ms)")
    print(f"  ratio                {i / o:.3f}×  (target ≤ 1.15×)")


if __name__ == "__main__":
    main()
