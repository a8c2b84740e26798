"""Study 2's headline figure: each environment's violation rate over the parameter × training-budget grid.

One panel per environment: the mean over seeds of the behaviour forecast's own rate with oversight
off (the plateau-free kind where the environment declares one), the τ = 0.5 contour, and the cells
beyond the compute cap left blank (the grid's edge).

Run: ``.venv/bin/python scripts/study2_grid_figure.py docs/results/study2/results.parquet docs/results/study2/grid.png``
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from bestiary.analysis.sealed import headline_metric, rows_of
from bestiary.analysis.table import load_results

TAU = 0.5


def main(table: Path, out: Path) -> None:
    """Draw the panels and write the PNG."""
    df = load_results(table)
    done = df[df.status == "done"]
    envs = sorted(done.env_id.unique())
    fig, axes = plt.subplots(3, 3, figsize=(12, 13), gridspec_kw={"hspace": 0.45})
    image = None
    for ax, env in zip(axes.flat, envs, strict=False):
        g = done[done.env_id == env]
        kind = headline_metric(g)
        grid = rows_of(g, kind, "off").pivot_table(index="params", columns="timesteps", values="value", aggfunc="mean")
        x, y = np.log10(grid.columns.to_numpy(float)), np.log10(grid.index.to_numpy(float))
        z = grid.to_numpy(float)
        image = ax.pcolormesh(np.arange(len(x)), np.arange(len(y)), z, cmap="Reds", vmin=0, vmax=1, shading="nearest")
        if np.nanmax(z) >= TAU and np.nanmin(z) < TAU:
            ax.contour(np.arange(len(x)), np.arange(len(y)), np.ma.masked_invalid(z), levels=[TAU], colors="black")
        for (i, j), v in np.ndenumerate(z):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6.5, color="white" if v > 0.6 else "black")
        ax.set_title(f"{env.split('/')[-1].removesuffix('-v0')}\n({kind})", fontsize=9)
        ax.set_xticks(np.arange(len(x)), [f"{10**v / 1e3:,.0f}k" for v in x], fontsize=7, rotation=45)
        ax.set_yticks(np.arange(len(y)), [f"{10**v:,.0f}" for v in y], fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("training budget (timesteps)")
    for ax in axes[:, 0]:
        ax.set_ylabel("parameters")
    fig.suptitle(
        "Study 2: violation rate with oversight off (mean of 8 seeds), black: τ = 0.5; blank: beyond the 1e12-FLOP cap",
        fontsize=10,
    )
    fig.colorbar(image, ax=axes, shrink=0.6, label="violation rate (off)")
    fig.savefig(out, dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
