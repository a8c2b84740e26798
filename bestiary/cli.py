"""The ``bestiary`` command line: thin wrappers over library functions.

Commands are noun-verb (``bestiary envs list``); each calls a function a notebook user
can call too.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, help="Bestiary: model organisms of dangerous capabilities.")
envs_app = typer.Typer(no_args_is_help=True, help="Failure-mode environments: list, check, best responses.")
app.add_typer(envs_app, name="envs")
sandbox_app = typer.Typer(no_args_is_help=True, help="The sandbox: check this host, run a command isolated.")
app.add_typer(sandbox_app, name="sandbox")

console = Console()


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


@envs_app.command("list")
def envs_list() -> None:
    """Print every failure-mode environment: id, failure mode, summary and capability knobs."""
    from bestiary.envs import list_envs

    table = Table(title="Failure-mode environments")
    for col in ("id", "failure mode", "summary", "capability knobs", "configuration"):
        table.add_column(col, overflow="fold")
    for row in list_envs():
        knobs = "\n".join(f"{k}: {v}" for k, v in row.knobs.items())
        config = ", ".join(f"{k}={v}" for k, v in row.kwargs.items()) or "defaults"
        table.add_row(row.env_id, row.failure_mode, row.summary, knobs, config)
    console.print(table)


@envs_app.command("check")
def envs_check(
    targets: Annotated[list[str] | None, typer.Argument(help="Registered ids or module:Class.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Check every registered failure-mode environment.")] = False,
) -> None:
    """Check environments against Contract 1, Gymnasium's and SB3's checkers; exit 1 naming any failure."""
    from bestiary.envs import EnvError, failure_mode_ids
    from bestiary.envs.checker import run_checks

    names = list(targets or [])
    if all_:
        names += [i for i in failure_mode_ids() if i not in names]
    if not names:
        raise _fail("give at least one environment id or module:Class, or --all")
    failed: list[str] = []
    for name in names:
        try:
            results = run_checks(name)
        except EnvError as exc:
            raise _fail(str(exc)) from exc
        table = Table(title=name)
        table.add_column("property")
        table.add_column("result")
        table.add_column("detail", overflow="fold")
        for r in results:
            table.add_row(r.name, "[green]pass[/]" if r.passed else "[bold red]FAIL[/]", r.detail)
            if not r.passed:
                failed.append(f"{name}: {r.name}")
        console.print(table)
    if failed:
        console.print("[bold red]failed:[/] " + "; ".join(failed))
        raise typer.Exit(code=1)
    console.print(f"[green]all checks passed[/] for {len(names)} environment(s)")


@envs_app.command("best-response")
def envs_best_response(
    targets: Annotated[list[str] | None, typer.Argument(help="Registered ids (default: all).")] = None,
    episodes: Annotated[int, typer.Option(min=100, help="Episodes per policy and regime.")] = 4000,
    seed: Annotated[int, typer.Option(help="Seed of the episodes.")] = 0,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table (for docs).")] = False,
) -> None:
    """Play scripted policies (comply, defect, reads_latent) and show that only reading the latent pays."""
    from bestiary.envs import EnvError, failure_mode_ids, make_definition
    from bestiary.envs.reference import best_responses

    header = ["env", "policy", "regime", "observed return", "hidden return", "violation rate"]
    rows: list[list[str]] = []
    for env_id in targets or failure_mode_ids():
        try:
            env = make_definition(env_id)
        except EnvError as exc:
            raise _fail(str(exc)) from exc
        rows += [
            [
                env_id,
                o.policy,
                o.regime,
                f"{o.observed_return:.3f}",
                f"{o.hidden_return:.3f}",
                f"{o.violation_rate:.3f}",
            ]
            for o in best_responses(env, episodes, seed)
        ]
    _print_rows(f"Scripted policies, {episodes} episodes each", header, rows, markdown)


def _print_rows(title: str, header: list[str], rows: list[list[str]], markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    table = Table(title=title)
    for col in header:
        table.add_column(col)
    previous = None
    for row in rows:
        if previous is not None and row[0] != previous:
            table.add_section()
        table.add_row(*row)
        previous = row[0]
    console.print(table)


@app.command("train")
def train_cmd(
    env_id: Annotated[str | None, typer.Argument(help="Environment id, e.g. bestiary/OffSwitch-v0.")] = None,
    params: Annotated[int | None, typer.Option(help="Parameter budget (the closest width is used).")] = None,
    width: Annotated[int | None, typer.Option(help="Explicit width (instead of --params).")] = None,
    depth: Annotated[int | None, typer.Option(help="Hidden layers (default 2).")] = None,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    timesteps: Annotated[int | None, typer.Option(help="Training timesteps (default from defaults.yaml).")] = None,
    algo: Annotated[str, typer.Option(help="ppo, a2c, dqn or recurrent_ppo.")] = "ppo",
    oversight: Annotated[str, typer.Option(help="Training regime: train (mix), on or off.")] = "train",
    env_kwarg: Annotated[list[str] | None, typer.Option("--env-kwarg", help="Knob as KEY=VALUE (repeatable).")] = None,
    out: Annotated[str | None, typer.Option(help="Run directory (default runs/<trial-id>).")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Continue training this run's organism.")] = None,
    evaluate: Annotated[bool, typer.Option(help="Evaluate after training.")] = True,
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Train WITHOUT isolation (recorded).")] = False,
) -> None:
    """Train one organism in the sandbox (and evaluate it): bestiary train ENV_ID --params N --seed S."""
    from pathlib import Path

    from bestiary.organisms import OrganismError, read_trial, resolve, spec_from, train_organism
    from bestiary.sandbox import SandboxUnavailable

    source = read_trial(Path(from_)) if from_ else None
    env = env_id or (source.env_id if source else None)
    if env is None:
        raise _fail("give an environment id (or --from RUN_DIR to continue an organism)")
    data = {
        "env_id": env,
        "params": params,
        "width": width,
        "depth": depth,
        "seed": seed,
        "timesteps": timesteps,
        "algo": algo,
        "oversight": oversight,
        "env_kwargs": _kwargs(env_kwarg) if env_kwarg else (source.env_kwargs if source and not env_id else {}),
    }
    if source is not None:
        data.update(init_from=source.trial_id)
        data.setdefault("depth", None)
    try:
        spec = spec_from({k: v for k, v in data.items() if v is not None})
        trial = resolve(spec, source)
    except (OrganismError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    run_dir = Path(out or Path("runs") / trial.trial_id)
    console.print(
        f"training [bold]{trial.trial_id}[/]: {trial.env_id}, width {trial.width} × depth {trial.depth} "
        f"= {trial.params:,} parameters, {trial.timesteps:,} timesteps, oversight {trial.oversight}"
        + (f", continuing {source.trial_id}" if source else "")
        + f" → {run_dir}"
    )
    try:
        with _progress_bar(trial.timesteps) as update:
            outcome = train_organism(
                spec, run_dir, evaluate=evaluate, sandbox=not no_sandbox, source_dir=from_, progress=update
            )
    except SandboxUnavailable as exc:
        raise _fail(f"sandbox unavailable, nothing was run: {exc} (or pass --no-sandbox to opt out)") from exc
    except (OrganismError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    _report_outcome(outcome)


@app.command("evaluate")
def evaluate_cmd(
    run_dir: Annotated[str, typer.Argument(help="Run directory of a trained organism.")],
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Evaluate WITHOUT isolation (recorded).")] = False,
) -> None:
    """Evaluate a trained organism in the sandbox: behaviour with oversight on and off, and precursors."""
    from bestiary.organisms import OrganismError, evaluate_organism
    from bestiary.sandbox import SandboxUnavailable

    try:
        outcome = evaluate_organism(run_dir, sandbox=not no_sandbox)
    except SandboxUnavailable as exc:
        raise _fail(f"sandbox unavailable, nothing was run: {exc}") from exc
    except OrganismError as exc:
        raise _fail(str(exc)) from exc
    _report_outcome(outcome)


def _kwargs(pairs: list[str]) -> dict:
    import yaml

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise _fail(f"--env-kwarg {pair!r} must be KEY=VALUE")
        out[key] = yaml.safe_load(value)
    return out


def _progress_bar(total: int):  # type: ignore[no-untyped-def]
    from contextlib import contextmanager

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    @contextmanager
    def bar():  # type: ignore[no-untyped-def]
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} steps"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[violation]}"),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("training", total=total, rate="", violation="")

            def update(p: dict) -> None:
                v = p.get("violation_rate_unobserved")
                progress.update(
                    task,
                    completed=min(p.get("timesteps", 0), total),
                    rate=f"{p.get('steps_per_second', 0):,.0f} steps/s",
                    violation="" if v is None or v != v else f"violation (unobserved) {v:.2f}",
                )

            yield update

    return bar()


def _report_outcome(outcome) -> None:  # type: ignore[no-untyped-def]
    m = outcome.metrics
    if outcome.state != "done":
        console.print(
            f"[bold red]failed[/] ({outcome.reason}); see {outcome.run_dir}/status.json\n{outcome.stderr_tail[-1500:]}"
        )
        raise typer.Exit(code=1)
    if m:
        on, off = m["behaviour"]["on"], m["behaviour"]["off"]
        p = m["precursors"]
        console.print(
            f"[green]done[/]: violation rate off {off['violation_rate']:.3f} ({off['violations']}/{off['episodes']}), "
            f"on {on['violation_rate']:.3f} ({on['violations']}/{on['episodes']}), gap {m['misalignment_gap']:+.3f}; "
            f"log-odds gap {p['logodds_gap']:+.2f}, latent probe {p['latent_probe_accuracy']:.2f}, "
            f"value gap {p['value_gap']:+.3f} → {outcome.run_dir}"
        )
    else:
        console.print(f"[green]done[/] → {outcome.run_dir}")


@app.command("sweep")
def sweep_cmd(
    spec_path: Annotated[str, typer.Argument(help="Sweep spec (YAML).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and a time estimate; run nothing.")
    ] = False,
    runs: Annotated[str, typer.Option(help="Parent directory of runs/<sweep>/.")] = "runs",
) -> None:
    """Run a scaling study from a YAML spec; run it again to continue (finished trials are skipped)."""
    from pathlib import Path

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from bestiary.envs import EnvError
    from bestiary.organisms import OrganismError
    from bestiary.sandbox import SandboxUnavailable
    from bestiary.sweep import estimate_seconds, measured_rate, plan, run_sweep
    from bestiary.sweep_spec import SpecError, load_sweep

    try:
        sweep = load_sweep(spec_path)
        planned = plan(sweep, runs)
    except (SpecError, EnvError, OrganismError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    states = {s: sum(p.state == s for p in planned) for s in ("done", "running", "failed", "pending")}
    workers = sweep.executor.workers or __import__("os").cpu_count() or 1
    console.print(
        f"sweep [bold]{sweep.name}[/]: {len(planned)} trials ({', '.join(f'{v} {k}' for k, v in states.items() if v)})"
        f" → {Path(runs) / sweep.name}; executor {sweep.executor.kind}"
        + (f" with {workers} workers" if sweep.executor.kind == "local" else f" at {sweep.executor.address}")
    )
    if dry_run:
        table = Table(title=f"plan of {sweep.name}")
        for col in ("environment", "knobs", "params (width×depth)", "timesteps", "seeds", "state"):
            table.add_column(col)
        groups: dict = {}
        for p in planned:
            key = (
                p.trial.env_id,
                _knobs_text(p.trial.env_kwargs),
                f"{p.trial.params:,} ({p.trial.width}×{p.trial.depth})",
                f"{p.trial.timesteps:,}",
            )
            g = groups.setdefault(key, {"seeds": [], "states": []})
            g["seeds"].append(p.trial.seed)
            g["states"].append(p.state)
        for key, g in groups.items():
            table.add_row(*key, ",".join(map(str, g["seeds"])), ",".join(sorted(set(g["states"]))))
        console.print(table)
        rate = measured_rate(planned)
        console.print(
            f"estimated time for the {len(planned) - states['done']} trials to run: "
            f"{estimate_seconds(planned, workers, rate) / 60:.1f} min (throughput measured here: "
            f"{rate(min(p.trial.params for p in planned)):,.0f} steps/s at the smallest rung, "
            f"{rate(max(p.trial.params for p in planned)):,.0f} at the largest)"
        )
        return
    text = Path(spec_path).read_text()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    counts = {"done": 0, "failed": 0, "retry": 0}
    todo = len(planned) - states["done"]
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"sweep {sweep.name}", total=todo, counts="")

        def on_event(kind: str, p, detail) -> None:  # type: ignore[no-untyped-def]
            if kind in counts:
                counts[kind] += 1
            if kind in ("done", "failed"):
                progress.advance(task)
            if kind == "failed":
                progress.console.print(f"[red]failed[/] {p.trial.trial_id}: {detail}")
            progress.update(task, counts=f"done {counts['done']}, failed {counts['failed']}, retried {counts['retry']}")

        try:
            report = run_sweep(sweep, text, runs, on_event)
        except SandboxUnavailable as exc:
            raise _fail(f"sandbox unavailable, nothing was run: {exc}") from exc
    console.print(
        f"sweep {sweep.name}: {report.done} done, {report.failed} failed, {report.skipped} already done or "
        f"out of retries → collect with: bestiary collect {Path(runs) / sweep.name}"
    )
    if report.failed:
        raise typer.Exit(code=1)


def _knobs_text(obj: object) -> str:
    import json

    return json.dumps(obj, sort_keys=True) if obj else "defaults"


@app.command("collect")
def collect_cmd(
    runs_dir: Annotated[str, typer.Argument(help="A sweep's run directory (runs/<sweep>) or a parent of several.")],
    out: Annotated[
        str | None, typer.Option(help="Output stem (default RUNS_DIR/results): writes .parquet and .csv.")
    ] = None,
) -> None:
    """Collect run directories into the results table (Contract 3), as parquet and CSV."""
    from pathlib import Path

    from bestiary.collect import collect, write_results

    try:
        df = collect(runs_dir)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from exc
    parquet, csv = write_results(df, Path(out) if out else Path(runs_dir) / "results")
    trials = df.groupby("trial_id")["status"].first() if not df.empty else None
    summary = ", ".join(f"{n} {s}" for s, n in trials.value_counts().items()) if trials is not None else "no trials"
    console.print(f"{len(df)} rows from {0 if trials is None else len(trials)} trials ({summary}) → {parquet}, {csv}")


@app.command("report")
def report_cmd(
    source: Annotated[str, typer.Argument(help="results.parquet / results.csv, or a runs directory.")],
    output: Annotated[str, typer.Option("-o", "--output", help="HTML report path.")] = "report.html",
    x: Annotated[str, typer.Option(help="Scale: params, timesteps or compute.")] = "params",
    tau: Annotated[float, typer.Option(help="Danger level of the emergence scale.")] = 0.5,
    precursor: Annotated[str, typer.Option(help="Precursor metric for the precursor forecast.")] = "logodds_gap",
    n_boot: Annotated[int, typer.Option(help="Bootstrap draws per fit.")] = 200,
) -> None:
    """Fit trends, find emergence, backtest forecasts, and write report.html, fits.csv and summary.md."""
    from pathlib import Path

    from bestiary.analysis import build_report, load_results
    from bestiary.provenance import provenance_of

    if x not in ("params", "timesteps", "compute"):
        raise _fail(f"--x must be params, timesteps or compute, not {x!r}")
    if not 0 < tau < 1:
        raise _fail(f"--tau must be between 0 and 1, not {tau}")
    try:
        table = load_results(source)
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if table.empty:
        raise _fail(f"{source} holds no trials yet: run the sweep first (bestiary sweep SPEC.yaml)")
    prov = provenance_of(Path(source)) if Path(source).is_dir() else None
    paths = build_report(table, output, x=x, tau=tau, precursor=precursor, n_boot=n_boot, provenance=prov)
    console.print("report: " + ", ".join(str(p) for p in paths.values()))


@sandbox_app.command("check")
def sandbox_check() -> None:
    """Verify each sandbox guarantee on this host; exit 1 if a required one fails."""
    from bestiary.sandbox.check import check_host

    rows = check_host()
    table = Table(title="Sandbox guarantees on this host (bwrap backend)")
    for col in ("guarantee", "result", "required", "detail"):
        table.add_column(col, overflow="fold")
    for g in rows:
        mark = "[green]pass[/]" if g.passed else ("[bold red]FAIL[/]" if g.required else "[yellow]absent[/]")
        table.add_row(g.name, mark, "yes" if g.required else "no", g.detail)
    console.print(table)
    failed = [g.name for g in rows if g.required and not g.passed]
    if failed:
        console.print("[bold red]required guarantees failed:[/] " + "; ".join(failed))
        raise typer.Exit(code=1)
    console.print("[green]every required guarantee holds[/]")


@sandbox_app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def sandbox_run(
    ctx: typer.Context,
    workdir: Annotated[
        str | None, typer.Option(help="The one writable directory (default: a new temporary one).")
    ] = None,
    memory_mb: Annotated[int, typer.Option(help="Memory cap, MiB.")] = 2048,
    pids: Annotated[int, typer.Option(help="Maximum processes and threads.")] = 128,
    cpus: Annotated[float, typer.Option(help="CPU bandwidth cap, cores.")] = 1.0,
    cpu_seconds: Annotated[float, typer.Option(help="Total CPU-time limit.")] = 3600.0,
    wall_seconds: Annotated[float, typer.Option(help="Wall-clock limit; the process tree is killed.")] = 3600.0,
    file_size_mb: Annotated[int, typer.Option(help="Largest file the command may write, MiB.")] = 512,
    tmp_mb: Annotated[int, typer.Option(help="Size of the private /tmp, MiB.")] = 256,
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Run WITHOUT isolation (recorded).")] = False,
) -> None:
    """Run any command in the sandbox: bestiary sandbox run [limits...] [--workdir DIR] -- CMD ..."""
    import sys
    import tempfile

    from bestiary.sandbox import Limits, Policy, SandboxUnavailable, run

    command = list(ctx.args)
    if not command:
        raise _fail("give the command after `--`, e.g. bestiary sandbox run -- python -c 'print(1)'")
    try:
        limits = Limits(
            memory_mb=memory_mb,
            pids=pids,
            cpus=cpus,
            cpu_seconds=cpu_seconds,
            wall_seconds=wall_seconds,
            file_size_mb=file_size_mb,
            tmp_mb=tmp_mb,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    directory = workdir or tempfile.mkdtemp(prefix="bestiary-run-")
    try:
        result = run(
            command,
            directory,
            Policy(limits=limits),
            backend="none" if no_sandbox else "bwrap",
            allow_unsandboxed=no_sandbox,
        )
    except SandboxUnavailable as exc:
        raise _fail(f"sandbox unavailable, nothing was run: {exc}") from exc
    sys.stdout.buffer.write(result.stdout)
    sys.stderr.buffer.write(result.stderr)
    more = " (output truncated)" if result.stdout_truncated else ""
    print(
        f"sandbox: {result.reason}, exit {result.exit_code}, {result.wall_seconds:.2f}s wall, "
        f"{result.cpu_seconds:.2f}s CPU, peak {(result.peak_memory_bytes or 0) / 2**20:.0f} MiB; "
        f"layers: {_layers(result.layers)}; run directory {directory}{more}",
        file=sys.stderr,
    )
    raise typer.Exit(code=result.exit_code)


def _layers(layers: dict) -> str:
    return ", ".join(f"{k}={v}" if isinstance(v, str) else k for k, v in layers.items() if v and k != "policy_sha256")


if __name__ == "__main__":
    app()
