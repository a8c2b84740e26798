"""Provenance of a runs directory for the report: the sweep spec, package versions, sandbox status.

Reads only JSON and text the host wrote (``sweep.yaml``, ``card.json``), without
following links.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from bestiary.sandbox.outputs import UnsafeOutputError, read_json, read_output


def provenance_of(runs_dir: Path) -> dict[str, Any]:
    """``sweep_spec`` (text), ``versions`` (of the first organism) and ``sandbox`` (one row per organism)."""
    out: dict[str, Any] = {"sandbox": []}
    specs = sorted(runs_dir.rglob("sweep.yaml"))
    if specs:
        with contextlib.suppress(UnsafeOutputError):
            out["sweep_spec"] = "\n\n".join(read_output(p.parent, p.name).decode(errors="replace") for p in specs)
    for trial in sorted(runs_dir.rglob("card.json")):
        card = read_json(trial.parent, "card.json") or {}
        sandbox = card.get("sandbox") or {}
        layers = sandbox.get("layers") or {}
        if "versions" not in out and card.get("versions"):
            out["versions"] = card["versions"]
        out["sandbox"].append(
            {
                "trial": card.get("trial_id", trial.parent.name),
                "backend": sandbox.get("backend", "?"),
                "unsandboxed": sandbox.get("unsandboxed", "?"),
                "layers": ", ".join(
                    f"{k}={v}" if isinstance(v, str) else k for k, v in layers.items() if v and k != "policy_sha256"
                ),
            }
        )
    return out
