"""The ``dramaflow`` command line.

Exit codes: 0 success; 2 the script or the options are wrong (the message names the line and the fix);
1 anything else failed (a backend, the disk). On failure no output file is left behind.

This module builds the root app from the command modules beside it; they share ``common`` and import
neither this module nor each other. Commands import their heavy dependencies when they run, so that
``dramaflow --help`` stays fast.
"""

from __future__ import annotations

import typer

from control_api.cli import accounts, ambience, render, service, submit, templates, voices, writer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Scripts to finished, mastered audio.")

# The order here is the order of `dramaflow --help`: top-level commands first, then the groups.
app.command()(render.render)
app.command()(render.check)
app.command()(service.serve)
app.command()(service.worker)
app.command()(service.cleanup)
app.command()(submit.submit)
app.command()(writer.write)
app.command()(writer.adapt)
app.add_typer(templates.templates_app, name="templates")
app.add_typer(voices.voices_app, name="voices")
app.add_typer(ambience.ambience_app, name="ambience")
app.add_typer(service.db_app, name="db")
app.add_typer(accounts.users_app, name="users")
app.add_typer(accounts.credits_app, name="credits")


def main() -> None:  # pragma: no cover - console entry
    app()
