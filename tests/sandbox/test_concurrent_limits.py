"""Concurrent runs do not share a process limit: one run's threads never leave another unable to fork."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from bestiary.sandbox import Policy, run

HOLD = """
import threading, time
threads = [threading.Thread(target=time.sleep, args=(8,)) for _ in range(120)]
for t in threads: t.start()
for t in threads: t.join()
print("held")
"""
START = """
import json, threading, time
started = 0
try:
    for _ in range(100):
        threading.Thread(target=time.sleep, args=(1,)).start(); started += 1
except RuntimeError as exc:
    print(json.dumps({"started": started, "error": str(exc)})); raise SystemExit(1)
print(json.dumps({"started": started}))
"""


def test_a_run_holding_many_threads_leaves_a_concurrent_run_its_own_limit(backend: str, workdir: Path) -> None:
    # Both runs are within their own limit (128 processes and threads); together they are far above it.
    results: dict[str, object] = {}

    def hold() -> None:
        results["hold"] = run([sys.executable, "-c", HOLD], workdir / "a", Policy(), backend=backend)

    holder = threading.Thread(target=hold)
    holder.start()
    threading.Event().wait(4.0)  # the first run holds its 120 threads by now
    second = run([sys.executable, "-c", START], workdir / "b", Policy(), backend=backend)
    holder.join()
    assert second.exit_code == 0, second.stdout[-500:] + second.stderr[-1500:]
    assert json.loads(second.stdout.decode().strip().splitlines()[-1])["started"] == 100
    assert b"held" in results["hold"].stdout  # type: ignore[attr-defined]
