"""A tiny sweep trained once for a test module: in a directory the sandbox's uid can read, removed afterwards."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bestiary.sweep import run_sweep
from bestiary.sweep_spec import parse_sweep


@contextlib.contextmanager
def trained_sweep(spec: str, organisms: int, prefix: str) -> Iterator[Path]:
    """Train ``spec`` (every one of its ``organisms`` must finish) and yield its sweep directory."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)  # the sandbox's uid must read it
    try:
        parsed = parse_sweep(spec)
        assert run_sweep(parsed, spec, base).done == organisms
        yield base / parsed.name
    finally:
        shutil.rmtree(base, ignore_errors=True)


def tiny_spec(widths: list[int], seeds: int) -> str:
    """The smallest useful sweep: OffSwitch at ``widths``, 4,096 timesteps, ``seeds`` seeds, two workers."""
    return f"""\
name: tiny
environments: [{{id: bestiary/OffSwitch-v0}}]
scale: {{widths: {widths}, timesteps: 4096}}
seeds: {seeds}
hyperparameters: {{n_steps: 32}}
evaluation: {{episodes: 32, probes: 32}}
executor: {{kind: local, workers: 2}}
"""
