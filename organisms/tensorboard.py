"""TensorBoard event files of an organism's learning curve, written by the host from its verified ``train.csv``.

The events are made with stable-baselines3's own logger (``tensorboard`` format), so
researchers see the curves in the tool they use, under the same ``rollout/``-style names
SB3 gives its own. The sandboxed run never writes event files itself: the host writes
them from numbers it has checked, so no bytes of the organism's reach TensorBoard.
Needs the ``tensorboard`` package (``pip install 'bestiary[tensorboard]'``).
"""

from __future__ import annotations

import math
from pathlib import Path

from bestiary.organisms.errors import OrganismError
from bestiary.organisms.protocol import TRAIN_COLUMNS
from bestiary.organisms.rundir import TRAIN_LOG, RunDir


def write_events(rd: RunDir, out_dir: Path | str) -> Path:
    """Write the event file of ``rd``'s learning curve into ``out_dir/<trial-id>/``; return that folder.

    Raises:
        OrganismError: If tensorboard is not installed.
        RunDirError: If the learning curve is missing or changed since the host wrote it.
    """
    try:
        import tensorboard  # noqa: F401
        from stable_baselines3.common.logger import configure
    except ImportError as exc:
        raise OrganismError("--tensorboard needs the tensorboard package: pip install 'bestiary[tensorboard]'") from exc
    trial = rd.trial()
    lines = rd.verified(TRAIN_LOG, 32 * 1024 * 1024).decode().splitlines()
    folder = Path(out_dir) / trial.trial_id
    logger = configure(str(folder), ["tensorboard"])
    for line in lines[1:]:
        row = dict(zip(TRAIN_COLUMNS, map(float, line.split(",")), strict=True))
        if not math.isfinite(row["timesteps"]):  # the host refuses such curves; one written before it did is skipped
            continue
        for key, value in row.items():
            if key != "timesteps" and math.isfinite(value):
                logger.record(f"bestiary/{key}", value)
        logger.dump(step=int(row["timesteps"]))
    logger.close()
    return folder
