"""Printing for the CLI: full-width tables when piped, ``--json``, and hostile text made harmless.

Anything that came from a sandboxed run or a run directory (stderr tails, failure
details, a command's output) is passed through :func:`safe` before it reaches a terminal:
control characters — escape sequences that could move the cursor, erase the summary line
or write the clipboard (OSC 52) — are shown escaped, and nothing is interpreted as Rich
markup.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

# Not a terminal (a pipe, a file, CI): never fold or cut a table at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 100_000, soft_wrap=not sys.stdout.isatty())
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 100_000)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe(text: str | bytes, limit: int | None = None) -> str:
    r"""``text`` with every control character shown escaped (``\\x1b``), newlines and tabs kept; cut to ``limit``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if limit is not None and len(text) > limit:
        text = text[-limit:]
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def say(message: str, style: str | None = None) -> None:
    """Print a line of our own text (no markup interpretation)."""
    console.print(Text(message, style=style or ""))


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` (made safe) and return the exit to raise."""
    line = Text("error: ", style="bold red")
    line.append(safe(message))
    console.print(line)
    return typer.Exit(code=code)


def print_json(obj: Any) -> None:
    """Machine-readable output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def print_table(title: str, header: list[str], rows: list[list[str]], *, markdown: bool = False) -> None:
    """A table (Markdown with ``markdown``), rows separated by their first column; cells made safe."""
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(safe(c).replace("|", "/") for c in row) + " |")
        return
    table = Table(title=title)
    for col in header:
        table.add_column(col, overflow="fold")
    previous = None
    for row in rows:
        if previous is not None and row[0] != previous:
            table.add_section()
        table.add_row(*(Text(safe(c)) for c in row))
        previous = row[0]
    console.print(table)
