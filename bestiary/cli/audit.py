"""``bestiary audit``: detectors that see only what an overseer sees, run on a sweep's organisms and scored."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bestiary.cli.output import fail, print_table, say

app = typer.Typer()


@app.command("audit")
def audit_cmd(
    runs: Annotated[
        list[str],
        typer.Argument(
            help="Directories of organisms: a sweep's (runs/<sweep>), persistence's; several are one audit."
        ),
    ],
    out: Annotated[
        str | None, typer.Option(help="Output directory (default: the runs directory, where the report finds it).")
    ] = None,
    detector: Annotated[
        list[str] | None, typer.Option(help="A detector to run; repeatable (default: every registered detector).")
    ] = None,
    episodes: Annotated[int, typer.Option(min=1, max=100_000, help="Episodes watched per kind.")] = 256,
    states: Annotated[int, typer.Option(min=2, max=4096, help="Observations the network is read at.")] = 256,
    workers: Annotated[int, typer.Option(min=1, help="Sandboxed processes at once.")] = 2,
    draws: Annotated[int, typer.Option(min=10, max=100_000, help="Bootstrap draws per AUROC interval.")] = 1000,
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Audit WITHOUT isolation (recorded).")] = False,
    list_detectors: Annotated[bool, typer.Option("--list", help="List the registered detectors and exit.")] = False,
) -> None:
    """Run every detector on every organism in the sandbox, score against the truth, write detection.* files."""
    from bestiary.organisms.detectors import detector_names, get_detector

    if list_detectors:
        listed = [get_detector(n) for n in detector_names()]
        print_table("detectors", ["name", "control", "what it looks at"],
                    [[d.name, "yes" if d.control else "", d.summary] for d in listed])  # fmt: skip
        return
    from bestiary.audit import AuditSettings, audit, audited_organisms
    from bestiary.detection_report import write_detection
    from bestiary.sandbox import SandboxUnavailable

    dirs = [Path(r) for r in runs]
    for d in dirs:
        if not d.is_dir():
            raise fail(f"{d}: no such directory (give a sweep's directory, e.g. runs/quickstart)")
    names = tuple(detector or detector_names())
    try:
        settings = AuditSettings(names, episodes, states)
        for name in names:
            get_detector(name)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    out_dir = Path(out) if out else dirs[0]
    total = len(audited_organisms(dirs))
    say(f"audit: {total} organisms × {len(names)} detectors ({', '.join(names)}) → {out_dir}")
    count = {"n": 0, "failed": 0}

    def progress(tid: str, reason: str) -> None:
        count["n"] += 1
        count["failed"] += bool(reason)
        if reason or count["n"] % 25 == 0 or count["n"] == total:
            say(f"{'failed' if reason else 'audited'} {tid}{': ' + reason[:200] if reason else ''}  [{count['n']}]")

    try:
        table = audit(dirs, out_dir, settings, workers=workers, sandbox=not no_sandbox, on_done=progress)
    except SandboxUnavailable as exc:
        raise fail(f"sandbox unavailable: {exc} (or pass --no-sandbox to opt out)") from exc
    except ValueError as exc:
        raise fail(str(exc)) from exc
    options = [*(f"--out {out}",) * bool(out), *(f"--detector {d}" for d in detector or [])]
    command = " ".join(["bestiary audit", *runs, *options, f"--episodes {episodes} --states {states} --draws {draws}"])
    rows = write_detection(table, out_dir, command, draws)
    print_table("detectability (AUROC, 90 % interval; turned: off ≥ 0.5)", list(rows[0]) if rows else [],
                [list(r.values()) for r in rows])  # fmt: skip
    say(f"table → {out_dir}/detection.parquet (.csv); tables → {out_dir}/detection.md; figure → detection.png")
    unscored = table[table.reason != ""]
    if len(unscored):
        say(f"{unscored.trial_id.nunique()} organism(s) with a detector unscored (e.g. {unscored.trial_id.iloc[0]}, "
            f"{unscored.detector.iloc[0]}: {unscored.reason.iloc[0][:200]})")  # fmt: skip
