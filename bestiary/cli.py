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


if __name__ == "__main__":
    app()
