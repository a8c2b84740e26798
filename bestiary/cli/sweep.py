"""``bestiary sweep``, ``bestiary collect`` and ``bestiary report``: a study from its spec to its report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from bestiary.cli.output import console, fail, print_json, print_table, safe
from bestiary.organisms.protocol import TRIAL

app = typer.Typer()


def _check_runs_root(runs: str) -> Path:
    from bestiary.sandbox.view import unsafe_directory

    why = unsafe_directory(runs)
    if why is not None:
        raise fail(f"refusing --runs {runs}: {why}; give a directory of its own, e.g. runs/")
    return Path(runs).absolute()


@app.command("sweep")
def sweep_cmd(
    spec_path: Annotated[str, typer.Argument(help="Sweep spec (YAML); see docs/sweep-spec.md.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and a time estimate; train nothing.")
    ] = False,
    runs: Annotated[str, typer.Option(help="Parent directory of runs/<sweep>/.")] = "runs",
    tensorboard: Annotated[
        str | None, typer.Option(help="Write TensorBoard event files of each organism here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="With --dry-run: print the plan as JSON.")] = False,
    until_seal: Annotated[
        int | None,
        typer.Option(
            "--until-seal",
            min=1,
            help="With a `forecast:` section: stop right after seal K is made, so it can be exported and "
            "committed before the organisms above it exist (`bestiary seal export`).",
        ),
    ] = None,
    stop_after_seal: Annotated[
        bool, typer.Option("--stop-after-seal", help="The same as --until-seal 1.", hidden=True)
    ] = False,
) -> None:
    """Run a scaling study from a YAML spec; run it again to continue (finished trials are skipped)."""
    from bestiary.envs import EnvError
    from bestiary.organisms import OrganismError
    from bestiary.sandbox import SandboxUnavailable
    from bestiary.sweep import count_trials, options_of, plan
    from bestiary.sweep_spec import SpecError, load_sweep

    runs_root = _check_runs_root(runs)
    try:
        sweep = load_sweep(spec_path)
        planned = plan(sweep, runs_root)
    except (SpecError, EnvError, OrganismError, ValueError) as exc:
        raise fail(str(exc)) from exc
    states = {s: sum(p.state == s for p in planned) for s in ("done", "running", "failed", "pending")}
    workers = sweep.executor.workers or os.cpu_count() or 1
    where = f"with {workers} workers" if sweep.executor.kind == "local" else f"at {sweep.executor.address}"
    header = (
        f"sweep {sweep.name}: {len(planned)} trials ({', '.join(f'{v} {k}' for k, v in states.items() if v)})"
        + _cap_note(sweep, count_trials(sweep) - len(planned))
        + foreign_note(runs_root / sweep.name, planned)
        + f" → {runs_root / sweep.name}; executor {sweep.executor.kind} {where}"
    )
    if dry_run:
        _dry_run(sweep, planned, runs_root, workers, header, as_json, options_of(sweep, runs_root))
        return
    console.print(Text(header))
    try:
        report = _run_with_progress(
            sweep, Path(spec_path).read_text(), runs_root, tensorboard, len(planned) - states["done"],
            1 if stop_after_seal and until_seal is None else until_seal,
        )  # fmt: skip
    except SandboxUnavailable as exc:
        raise fail(f"sandbox unavailable, nothing more was run: {exc}") from exc
    except (SpecError, OrganismError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    console.print(
        Text(
            f"sweep {sweep.name}: {report.done} done"
            + (f" ({report.waited} by another sweep)" if report.waited else "")
            + f", {report.failed} failed, {report.skipped} already done or out of retries → collect with: "
            f"bestiary collect {runs_root / sweep.name}"
        )
    )
    if report.failed:
        raise typer.Exit(code=1)


def foreign_note(sweep_dir: Path, planned: list[Any]) -> str:
    """Trial directories of the sweep's directory that this plan does not hold, and what that means."""
    ours = {p.run_dir.path.name for p in planned}
    there = {d.name for d in sweep_dir.iterdir() if (d / TRIAL).is_file()} if sweep_dir.is_dir() else set()
    foreign = len(there - ours)
    if not foreign:
        return ""
    return (
        f"; {foreign} trial directories here are not in this plan (the spec or an environment's code changed since "
        "they were trained — trial ids hash both): they are kept, not reused; to finish a study trained by older "
        "code, run it from a checkout of that commit (git worktree add)"
    )


def _cap_note(sweep: Any, capped: int) -> str:
    """The compute cap as the grid's edge: how many cells of the full grid lie beyond it."""
    cap = sweep.scale.max_compute
    return f"; {capped} cells of the grid lie beyond max_compute {cap:.3g} FLOPs (its edge)" if cap else ""


def _dry_run(
    sweep: Any, planned: list, runs_root: Path, workers: int, header: str, as_json: bool, options: Any
) -> None:
    from bestiary.organisms.sweepdir import SweepDir
    from bestiary.planning import environment_seconds, estimate_phases, measured_model, phase_estimates, plan_groups
    from bestiary.sandbox import SandboxUnavailable

    groups = plan_groups(planned)
    sweep_dir = SweepDir(runs_root / sweep.name)
    phases = phase_estimates(sweep, planned)
    units = [u for ph in phases for u in ph.units]
    try:
        model, measured = measured_model(units, options, sweep_dir) if units else (None, {})
    except SandboxUnavailable as exc:
        raise fail(f"sandbox unavailable, the throughput could not be measured: {exc}") from exc
    seals = len(sweep.forecast.levels()) if sweep.forecast is not None else 0
    sealed = frozenset(k for k, p in sweep_dir.seals() if k <= seals)
    total = estimate_phases(phases, workers, model, planned, sealed) if model is not None else 0.0
    per_env = environment_seconds(phases, model) if model is not None else {}
    phase_rows = [
        {"phase": ph.index, "ends with": f"seal {ph.index} ({ph.level})" if ph.level else "—",
         "trials to run": len(ph.trials), "processes": len(ph.units), "minutes": round(ph.seconds / 60, 2),
         "seal seconds": round(ph.seal_seconds, 1)}
        for ph in phases
    ]  # fmt: skip
    if as_json:
        print_json({"header": header, "groups": [g.__dict__ for g in groups], "estimated_minutes": total / 60,
                    "phases": phase_rows, "environment_core_minutes": {k: v / 60 for k, v in per_env.items()},
                    "step_seconds": measured})  # fmt: skip
        return
    console.print(Text(header))
    print_table(
        f"plan of {sweep.name}",
        ["environment", "knobs", "params (width×depth)", "timesteps", "seeds", "state"],
        [
            [
                g.environment,
                g.knobs,
                f"{g.params:,} ({g.width}×{g.depth})",
                f"{g.timesteps:,}",
                ",".join(map(str, g.seeds)),
                ",".join(sorted(set(g.states))),
            ]
            for g in groups
        ],
    )
    print_table("phases (each waits for the one before: a seal is made before any organism above it exists)",
                list(phase_rows[0]), [list(map(str, r.values())) for r in phase_rows])  # fmt: skip
    print_table("per environment (training and evaluation, core-minutes)", ["environment", "core-minutes"],
                [[env, f"{sec / 60:.2f}"] for env, sec in sorted(per_env.items())])  # fmt: skip
    rates = "; ".join(
        f"{key.split(':')[0]} at {int(key.split(':')[2]):,} parameters, population {key.split(':')[3]}: "
        f"{1e6 * seconds:.1f} µs per organism-step"
        for key, seconds in measured.items()
    )
    console.print(
        Text(
            f"estimated time for the {sum(p.state != 'done' for p in planned)} trials to run in {len(units)} "
            f"sandboxed processes over {len(phases)} phase(s) on {workers} workers: {total / 60:.1f} min "
            f"(training measured in the sandbox here: {rates or 'nothing'})"
        )
    )


def _run_with_progress(
    sweep: Any, text: str, runs_root: Path, tensorboard: str | None, todo: int, until_seal: int | None = None
) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from bestiary.organisms import RunDir
    from bestiary.sweep import run_sweep

    counts = {"done": 0, "failed": 0, "retry": 0}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[counts]}"),
               TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    # Not a terminal (a log file, CI): no bar, one plain line per finished trial.
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task(f"sweep {sweep.name}", total=todo, counts="")

        def on_event(kind: str, p: Any, detail: Any) -> None:
            if kind in counts:
                counts[kind] += 1
            if kind in ("done", "failed"):
                progress.advance(task)
                line = Text(f"{kind} {p.trial.trial_id}", style="green" if kind == "done" else "red")
                if detail and kind == "failed":
                    line.append(": " + safe(str(detail), 500))
                line.append(
                    f"  [{counts['done']} done, {counts['failed']} failed, {counts['retry']} retried of {todo}]"
                )
                if kind == "failed" or not console.is_terminal:
                    progress.console.print(line)
                if kind == "done":
                    finished.append(p.run_dir)
            if kind == "sealed":
                progress.console.print(Text(f"forecast: {detail}", style="bold"))
            if kind == "seal_failed":
                progress.console.print(Text(f"forecast: {safe(str(detail), 1000)}", style="bold red"))
            progress.update(task, counts=f"done {counts['done']}, failed {counts['failed']}, retried {counts['retry']}")

        finished: list[RunDir] = []
        report = run_sweep(sweep, text, runs_root, on_event, until_seal=until_seal)
    if tensorboard:  # after the sweep, not in the thread that records organisms as they finish
        _tensorboard_events(finished, tensorboard)
    return report


def _tensorboard_events(run_dirs: list[Any], out_dir: str) -> None:
    from bestiary.organisms import OrganismError
    from bestiary.organisms.tensorboard import write_events

    for rd in run_dirs:
        try:
            write_events(rd, out_dir)
        except OrganismError as exc:  # a curve that changed since the host wrote it, or no tensorboard
            console.print(Text(f"tensorboard: {rd.path.name}: {safe(str(exc), 500)}", style="yellow"))


@app.command("collect")
def collect_cmd(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="A sweep's directory (runs/<sweep>), a parent of several, or a run directory; several sources "
            "(directories or results tables of other phases or machines) are merged, each trial once."
        ),
    ],
    out: Annotated[
        str | None, typer.Option(help="Output stem (default: the first source's results): writes .parquet and .csv.")
    ] = None,
) -> None:
    """Collect the planned trials' verified results into the results table (Contract 3), as parquet and CSV."""
    from bestiary.collect import MergeConflict, collect_curves, merge_tables, table_of, write_results
    from bestiary.organisms.sweepdir import SweepDir

    first = Path(sources[0])
    if len(sources) > 1 and out is None:
        raise fail("several sources are merged into a new table: give its stem with --out")
    try:
        tables = [(src, table_of(src)) for src in sources]
        df = tables[0][1] if len(tables) == 1 else merge_tables(tables)
        curves = collect_curves(first) if len(sources) == 1 and first.is_dir() else None
        paths = write_results(df, Path(out) if out else SweepDir(first).results, curves)
    except MergeConflict as exc:
        raise fail(f"not merged: {exc}") from exc
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise fail(str(exc)) from exc
    trials = df.groupby("trial_id")["status"].first() if not df.empty else None
    summary = ", ".join(f"{n} {s}" for s, n in trials.value_counts().items()) if trials is not None else "no trials"
    console.print(
        Text(
            f"{len(df)} rows from {0 if trials is None else len(trials)} trials ({summary}) → "
            + ", ".join(map(str, paths))
        )
    )


@app.command("report")
def report_cmd(
    source: Annotated[
        str, typer.Argument(help="results.parquet / results.csv, or a runs directory (collected first).")
    ],
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="HTML report path (default: report.html beside the source).")
    ] = None,
    x: Annotated[str, typer.Option(help="Scale: params, timesteps or compute.")] = "params",
    tau: Annotated[float, typer.Option(help="Danger level of the emergence scale.")] = 0.5,
    precursor: Annotated[
        str | None, typer.Option(help="Precursor of the precursor forecast (default: the latent probe).")
    ] = None,
    n_boot: Annotated[int, typer.Option(min=0, max=10_000, help="Bootstrap draws per fit.")] = 200,
    forecast: Annotated[
        list[str] | None,
        typer.Option(
            help="A sealed forecast to score, e.g. a committed seal (docs/results/<study>/seal-1/forecast.json); "
            "repeatable (default: every seal in the sweep's directory)."
        ),
    ] = None,
    audit: Annotated[
        str | None,
        typer.Option(help="An audit's table to report (default: detection.parquet beside the runs, if there)."),
    ] = None,
) -> None:
    """Fit trends, find emergence, backtest forecasts, and write report.html, fits.csv and summary.md."""
    from bestiary.analysis import build_report, load_results
    from bestiary.analysis.pipeline import DEFAULT_PRECURSOR
    from bestiary.organisms.sweepdir import SweepDir

    if x not in ("params", "timesteps", "compute"):
        raise fail(f"--x must be params, timesteps or compute, not {x!r}")
    if not 0 < tau < 1:
        raise fail(f"--tau must be between 0 and 1, not {tau}")
    src = Path(source)
    prov = None
    try:
        from bestiary.collect import curves_of

        if src.is_dir():
            from bestiary.collect import collect
            from bestiary.provenance import provenance_of

            table, prov = collect(src), provenance_of(src)
        else:
            table = load_results(src)
        curves = curves_of(src)
        seals = seals_of(src, forecast or [])
        detection = detection_of(src, audit)
        written: tuple[Path, ...] = ()
        if src.is_dir() and SweepDir(src).is_sweep():  # the table the report is made from, beside it
            from bestiary.collect import write_results

            written = write_results(table, SweepDir(src).results, curves)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    if table.empty:
        raise fail(f"{source} holds no trials yet: run the sweep first (bestiary sweep SPEC.yaml)")
    out = Path(output) if output else SweepDir(src if src.is_dir() else src.parent).report
    try:
        paths = build_report(
            table, out, x=x, tau=tau, precursor=precursor or DEFAULT_PRECURSOR, n_boot=n_boot, provenance=prov,
            curves=curves, forecast=seals, detection=detection,
        )  # fmt: skip
    except OSError as exc:
        raise fail(f"cannot write the report to {out}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if written:
        console.print(Text("results table: " + ", ".join(str(p) for p in written)))
    console.print(Text("report: " + ", ".join(str(p) for p in paths.values())))


def detection_of(src: Path, given: str | None) -> Any:
    """The audit's table to report: the one given, or ``bestiary audit``'s beside the runs or the table (or None)."""
    import pandas as pd

    from bestiary.audit import DETECTION_TABLE

    path = Path(given) if given else (src if src.is_dir() else src.parent) / DETECTION_TABLE
    if given and not path.is_file():
        raise FileNotFoundError(f"--audit {given}: no such file (made by `bestiary audit RUNS`: detection.parquet)")
    return pd.read_parquet(path) if path.is_file() else None


def seals_of(src: Path, given: list[str]) -> list[Any]:
    """The seals to score, with git's record of each: the ones given, or every seal beside the runs or the table."""
    from bestiary.analysis.seals import Seal
    from bestiary.git_record import order_status
    from bestiary.organisms.sweepdir import SweepDir
    from bestiary.sandbox.outputs import MalformedOutputError, parse_json
    from bestiary.seal_export import FORECAST_FILE, MAX_SEAL_BYTES
    from bestiary.sealing import seal_status

    for g in given:
        if not Path(g).is_file():
            raise FileNotFoundError(f"{g} does not exist")
    found = SweepDir(src if src.is_dir() else src.parent).seals()
    # An exported seal is named by its folder (seal-2, seal-2-amended); anything else by its place and path.
    folders = [Path(g).parent.name if Path(g).name == FORECAST_FILE else "" for g in given]
    named = all(folders) and len(set(folders)) == len(folders)
    paths = [(folders[i] if named else f"seal {i + 1}: {g}", Path(g)) for i, g in enumerate(given)] or [
        (f"seal {k}" if len(found) > 1 else "sealed forecast", p) for k, p in found
    ]
    out = []
    for label, path in paths:  # parsed with limits here; verified when scored (a tampered seal is reported so)
        try:
            doc = parse_json(path.read_bytes(), max_bytes=MAX_SEAL_BYTES)
        except MalformedOutputError as exc:
            raise ValueError(f"{path} is not a forecast: {exc}") from exc
        out.append(Seal(label, doc, [f"seal: {seal_status(path)}", f"order: {order_status(path, src)}"]))
    return out
