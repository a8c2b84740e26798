"""The ``bestiary`` command line: thin wrappers over library functions.

Commands are noun-verb (``bestiary envs list``); each calls a function a notebook user
can call too. Listing and checking commands take ``--json``.
"""

from __future__ import annotations

import typer

from bestiary.cli import audit, envs, forecast, persist, sandbox, sweep, train

app = typer.Typer(no_args_is_help=True, help="Bestiary: model organisms of dangerous capabilities.")
app.add_typer(envs.app, name="envs")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(forecast.seal_app, name="seal")
app.registered_commands += (
    train.app.registered_commands
    + sweep.app.registered_commands
    + forecast.app.registered_commands
    + persist.app.registered_commands
    + audit.app.registered_commands
)

__all__ = ["app"]
