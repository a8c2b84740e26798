"""The ``ray`` executor: a sweep's trials as plain Ray tasks on an existing cluster.

Each task trains and evaluates its trial in the sandbox on whichever node runs it, in a
temporary run directory there, and returns the run directory's files; the driver writes
them into ``runs/<sweep>/<trial-id>/``. Nodes therefore need no shared filesystem — only
Bestiary installed, and the sandbox available (``bestiary sandbox check``).
Ray is an optional dependency: ``pip install 'bestiary[ray]'``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Any

from bestiary.errors import BestiaryError
from bestiary.sandbox import Limits
from bestiary.sandbox.outputs import inventory, read_output

MAX_FILE_BYTES = 512 * 1024 * 1024


class RayUnavailableError(BestiaryError):
    """Ray is not installed, or the cluster cannot be reached."""


def _trial_on_node(spec: dict[str, Any], trial_id: str, sandbox: bool, limits: dict[str, Any]) -> dict[str, Any]:
    """Runs on a Ray worker: train in the node's sandbox, return the run directory's files."""
    from bestiary.organisms import TrialSpec, train_organism

    base = Path(tempfile.mkdtemp(prefix="bestiary-ray-"))
    base.chmod(0o755)  # the sandbox's unprivileged uid must reach the run directory
    run_dir = base / trial_id
    try:
        outcome = train_organism(TrialSpec.model_validate(spec), run_dir, sandbox=sandbox, limits=Limits(**limits))
        files = {
            rel: read_output(run_dir, rel, MAX_FILE_BYTES) for rel in inventory(run_dir, max_files=100_000)["files"]
        }
        files["audit.jsonl"] = read_output(run_dir, "audit.jsonl", MAX_FILE_BYTES)
        return {"state": outcome.state, "reason": outcome.reason, "files": files, "node": _node_id()}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _node_id() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # outside a Ray worker
        return os.uname().nodename


def _write_files(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write a node's files into the local run directory (relative paths only, replacing what is there)."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    for rel, data in files.items():
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
            raise ValueError(f"a Ray task returned an unsafe path {rel!r}")
        path = run_dir.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def run_on_ray(sweep: Any, todo: list[Any], limits: Limits, emit: Callable[[str, Any, Any], None]) -> dict[str, int]:
    """Run the planned trials ``todo`` of ``sweep`` on the Ray cluster at ``sweep.executor.address``.

    Raises:
        RayUnavailableError: If Ray is not installed or the cluster cannot be reached.
    """
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailableError("the ray executor needs Ray: pip install 'bestiary[ray]'") from exc
    try:
        ray.init(address=sweep.executor.address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
    except Exception as exc:  # Ray raises several types for an unreachable cluster
        raise RayUnavailableError(f"cannot reach the Ray cluster at {sweep.executor.address}: {exc}") from exc
    task = ray.remote(num_cpus=1, max_retries=0)(_trial_on_node)
    limits_json = asdict(limits)
    attempts: dict[str, int] = {}
    pending: dict[Any, Any] = {}

    def submit(p: Any) -> None:
        attempts[p.trial.trial_id] = attempts.get(p.trial.trial_id, p.attempts) + 1
        emit("start", p, None)
        ref = task.remote(p.spec.model_dump(mode="json"), p.trial.trial_id, sweep.sandbox.enabled, limits_json)
        pending[ref] = p

    for p in todo:
        submit(p)
    done = failed = 0
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        ref = ready[0]
        p = pending.pop(ref)
        try:
            result = ray.get(ref)
        except Exception as exc:  # a task that died (node lost, worker crash) is a failed attempt
            result = {"state": "failed", "reason": f"ray: {type(exc).__name__}", "files": None}
        if result["files"] is not None:
            _write_files(p.run_dir, result["files"])
        _fix_attempts(p.run_dir, attempts[p.trial.trial_id], result)
        if result["state"] == "done":
            done += 1
            emit("done", p, result.get("node"))
        elif attempts[p.trial.trial_id] <= sweep.retries:
            emit("retry", p, result["reason"])
            submit(p)
        else:
            failed += 1
            emit("failed", p, result["reason"])
    return {"done": done, "failed": failed}


def _fix_attempts(run_dir: Path, attempts: int, result: dict[str, Any]) -> None:
    """The node's status counts only its own attempt; record the sweep's count (and a lost task's failure)."""
    from bestiary.organisms.runner import write_status

    run_dir.mkdir(parents=True, exist_ok=True)
    state = "done" if result["state"] == "done" else "failed"
    write_status(run_dir, state, attempts=attempts, reason=result["reason"], node=result.get("node"))
