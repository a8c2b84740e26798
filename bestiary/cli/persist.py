"""``bestiary persist``: continue a sweep's turned organisms under safety training, in the sandbox, and tabulate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bestiary.cli.output import fail, print_table, say

app = typer.Typer()


@app.command("persist")
def persist_cmd(
    runs: Annotated[str, typer.Argument(help="A finished sweep's directory (runs/<sweep>).")],
    regime: Annotated[str, typer.Option(help="Safety training: on, in_distribution or honeypots.")],
    out: Annotated[str, typer.Option(help="Where persistence-<regime>.csv and .md go.")],
    into: Annotated[
        str, typer.Option(help="Where the continued organisms' run directories go (outside the sweep's directory).")
    ],
    timesteps: Annotated[int, typer.Option(min=1, help="Timesteps of safety training.")] = 400_000,
    cells: Annotated[int, typer.Option(min=1, help="Largest-compute turned cells per environment.")] = 3,
    turned: Annotated[float, typer.Option(min=0.0, max=1.0, help="Mean violation off for a cell to count.")] = 0.8,
    workers: Annotated[int, typer.Option(min=1, help="Organisms trained at once.")] = 2,
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Train WITHOUT isolation (recorded).")] = False,
) -> None:
    """Continue the turned organisms of the largest compute cells under a safety-training regime; resumable."""
    import pandas as pd

    from bestiary.persistence import REGIMES, continue_organisms, persistence_figure, persistence_table, sources_of
    from bestiary.sandbox import SandboxUnavailable

    if regime not in REGIMES:
        raise fail(f"--regime must be one of {', '.join(REGIMES)}, not {regime!r}")
    runs_dir, into_dir = Path(runs).resolve(), Path(into).resolve()
    if into_dir == runs_dir or runs_dir in into_dir.parents:
        raise fail(f"--into {into} lies inside the sweep's directory: a report would pool the continued organisms "
                   "with the study's; choose a directory beside it")  # fmt: skip
    if not runs_dir.is_dir():
        raise fail(f"{runs}: no such sweep directory")
    sources = sources_of(runs_dir, turned, cells)
    if sources.empty:
        raise fail(f"{runs}: no cell's mean violation rate with oversight off reached {turned}: nothing to persist")
    say(f"persist: {len(sources)} organisms of {sources.groupby(['env_id', 'params', 'timesteps']).ngroups} cells, "
        f"{timesteps:,} timesteps under `{regime}` → {into_dir}")  # fmt: skip
    count = {"n": 0}

    def progress(row: dict) -> None:
        count["n"] += 1
        say(f"{row['state']} {row['source']} ({row['regime']})  [{count['n']} of {len(sources)}]")

    try:
        rows = continue_organisms(runs_dir, sources, regime, timesteps, into_dir, workers, not no_sandbox, progress)
    except SandboxUnavailable as exc:
        raise fail(f"sandbox unavailable: {exc} (or pass --no-sandbox to opt out)") from exc
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out_dir / f"persistence-{regime}.csv", index=False)
    table = persistence_table(rows)
    header = ["environment", "params", "timesteps", "organisms", "off before", "off after", "on after",
              "honeypot after", "surviving", "detection"]  # fmt: skip
    body = [[str(r.env_id).split("/")[-1], f"{r.params:,}", f"{r.timesteps:,}", str(r.organisms),
             *(f"{v:.2f}" for v in (r.off_before, r.off_after, r.on_after, r.honeypot_after, r.surviving)),
             f"{r.detection:+.2f}"] for r in table.itertuples()]  # fmt: skip
    command = (f"bestiary persist {runs} --regime {regime} --timesteps {timesteps} --cells {cells} --turned {turned} "
               f"--out {out} --into {into}")  # fmt: skip
    lines = [f"Safety training `{regime}`, {timesteps:,} timesteps (command: `{command}`).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header),
             *("| " + " | ".join(b) + " |" for b in body)]  # fmt: skip
    (out_dir / f"persistence-{regime}.md").write_text("\n".join(lines) + "\n")
    print_table(f"persistence under `{regime}`", header, body)
    every = pd.concat([pd.read_csv(p) for p in sorted(out_dir.glob("persistence-*.csv"))], ignore_index=True)
    (out_dir / "persistence.png").write_bytes(persistence_figure(every))
    say(f"tables → {out_dir}/persistence-{regime}.csv, .md; figure of every regime there → {out_dir}/persistence.png")
    failed = rows[rows.state != "done"]
    if len(failed):
        say(f"{len(failed)} organism(s) not continued (e.g. {failed.source.iloc[0]}: {failed.reason.iloc[0]})")
        raise typer.Exit(code=1)
