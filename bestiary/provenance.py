"""Provenance of a runs directory for the report: the sweep specs, package versions, sandbox status per organism.

Reads only what the host wrote (``sweep.yaml``, each planned trial's ``card.json``),
bounded and without following links.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bestiary.collect import sweep_dirs
from bestiary.organisms import RunDirError
from bestiary.organisms.sweepdir import SweepDir


def _layers(layers: Any) -> str:
    if not isinstance(layers, dict):
        return ""
    return ", ".join(
        f"{k}={v}" if isinstance(v, str) else str(k) for k, v in layers.items() if v and k != "policy_sha256"
    )


def provenance_of(runs_dir: Path) -> dict[str, Any]:
    """``sweep_spec`` (text), ``versions`` (of the first organism) and ``sandbox`` (one row per organism)."""
    out: dict[str, Any] = {"sandbox": []}
    specs = []
    for d in map(SweepDir, sweep_dirs(runs_dir)):
        spec = d.spec_copy()
        if spec is not None:
            specs.append(spec)
        for tid in d.planned_ids() or []:
            rd = d.run_dir(tid)
            try:
                card = rd.card()
            except RunDirError:
                continue
            if not card:
                continue
            found = card.get("sandbox")
            sandbox: dict = found if isinstance(found, dict) else {}
            if "versions" not in out and isinstance(card.get("versions"), dict):
                out["versions"] = card["versions"]
            out["sandbox"].append(
                {
                    "trial": tid,
                    "backend": sandbox.get("backend", "?"),
                    "unsandboxed": sandbox.get("unsandboxed", "?"),
                    "layers": _layers(sandbox.get("layers")),
                }
            )
    if specs:
        out["sweep_spec"] = "\n\n".join(specs)
    return out
