"""``bestiary sandbox``: check this host against every guarantee, or run any command isolated."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from bestiary.cli.output import console, fail, print_table, safe
from bestiary.sandbox.policy import limit_docs

app = typer.Typer(no_args_is_help=True, help="The sandbox: check this host, run a command isolated.")
_DOCS = limit_docs()
BACKEND = Annotated[str, typer.Option(help="Sandbox backend: bwrap, gvisor, or a plugin's.")]


@app.command("check")
def sandbox_check(
    backend: BACKEND = "bwrap",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Verify each sandbox guarantee on this host for a backend; exit 1 if a required one fails."""
    from bestiary.sandbox.check import as_json as rows_json
    from bestiary.sandbox.check import check_host

    try:
        rows = check_host(backend)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    failed = [g.name for g in rows if g.required and not g.passed]
    if as_json:
        print(rows_json(rows))
    else:
        marks = {(True, True): "pass", (True, False): "pass", (False, True): "FAIL", (False, False): "absent"}
        print_table(
            f"Sandbox guarantees on this host ({backend} backend)",
            ["guarantee", "result", "required", "detail"],
            [[g.name, marks[(g.passed, g.required)], "yes" if g.required else "no", g.detail] for g in rows],
        )
        if failed:
            console.print(Text("required guarantees failed: " + "; ".join(failed), style="bold red"))
        else:
            console.print(Text("every required guarantee holds", style="green"))
    if failed:
        raise typer.Exit(code=1)


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sandbox_run(
    ctx: typer.Context,
    workdir: Annotated[
        str | None,
        typer.Option(help="The one writable directory: new or empty (default: a temporary one, removed after)."),
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the temporary writable directory.")] = False,
    backend: BACKEND = "bwrap",
    memory_mb: Annotated[int, typer.Option(help=_DOCS["memory_mb"][1])] = _DOCS["memory_mb"][0],
    pids: Annotated[int, typer.Option(help=_DOCS["pids"][1])] = _DOCS["pids"][0],
    cpus: Annotated[float, typer.Option(help=_DOCS["cpus"][1])] = _DOCS["cpus"][0],
    cpu_seconds: Annotated[float, typer.Option(help=_DOCS["cpu_seconds"][1])] = _DOCS["cpu_seconds"][0],
    wall_seconds: Annotated[float, typer.Option(help=_DOCS["wall_seconds"][1])] = _DOCS["wall_seconds"][0],
    file_size_mb: Annotated[int, typer.Option(help=_DOCS["file_size_mb"][1])] = _DOCS["file_size_mb"][0],
    tmp_mb: Annotated[int, typer.Option(help=_DOCS["tmp_mb"][1])] = _DOCS["tmp_mb"][0],
    audit: Annotated[
        str | None, typer.Option(help="Append the audit record to this JSONL file (outside the workdir).")
    ] = None,
    raw: Annotated[
        bool, typer.Option("--raw", help="Copy the command's output as is (control characters included).")
    ] = False,
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Run WITHOUT isolation (recorded).")] = False,
) -> None:
    """Run any command in the sandbox: bestiary sandbox run [limits...] [--workdir DIR] -- CMD ..."""
    from bestiary.sandbox import Limits, Policy, SandboxUnavailable, run

    command = list(ctx.args)
    if not command:
        raise fail("give the command after `--`, e.g. bestiary sandbox run -- python -c 'print(1)'")
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
        raise fail(str(exc)) from exc
    temporary = None
    if workdir is None:
        temporary = Path(tempfile.mkdtemp(prefix="bestiary-run-"))
        temporary.chmod(0o755)
        directory = temporary / "work"
    else:
        directory = Path(workdir)
    try:
        result = run(
            command,
            directory,
            Policy(limits=limits),
            backend="none" if no_sandbox else backend,
            allow_unsandboxed=no_sandbox,
            audit_path=Path(audit) if audit else None,
        )
    except SandboxUnavailable as exc:
        raise fail(f"sandbox unavailable, nothing was run: {exc}") from exc
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    finally:
        if temporary is not None and not keep:
            shutil.rmtree(temporary, ignore_errors=True)
    if raw:
        sys.stdout.buffer.write(result.stdout)
        sys.stderr.buffer.write(result.stderr)
    else:  # the run's output is hostile: never let it drive the terminal
        sys.stdout.write(safe(result.stdout))
        sys.stderr.write(safe(result.stderr))
    more = " (output truncated)" if result.stdout_truncated else ""
    where = "removed" if temporary is not None and not keep else str(directory)
    layers = ", ".join(
        f"{k}={v}" if isinstance(v, str) else k for k, v in result.layers.items() if v and k != "policy_sha256"
    )
    print(
        f"\nsandbox: {result.reason}, exit {result.exit_code}, {result.wall_seconds:.2f}s wall, "
        f"{result.cpu_seconds:.2f}s CPU, peak {(result.peak_memory_bytes or 0) / 2**20:.0f} MiB; "
        f"layers: {layers}; writable directory {where}{more}",
        file=sys.stderr,
    )
    raise typer.Exit(code=result.exit_code)
