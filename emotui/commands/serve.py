"""`emotui serve`: the dashboard in a web browser through textual-serve; each browser tab runs its own app."""

from __future__ import annotations

import shlex
import sys

import click


def dashboard_command(params: dict) -> str:
    """The shell command textual-serve starts per browser session, with the group's dashboard options."""
    words = [sys.executable, "-m", "emotui"]
    for name in ("data", "source", "model", "interval", "landmarker"):
        value = params.get(name)
        if value is not None:
            words += [f"--{name}", str(value)]
    return shlex.join(words)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. The dashboard can start jobs and read files: keep it local unless "
                   "you mean to share it.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the dashboard to a web browser (exports are delivered as downloads)."""
    from textual_serve.server import Server

    params = ctx.parent.params if ctx.parent else {}
    click.echo(f"emotui: serving the dashboard on http://{host}:{port} (Ctrl-C stops)", err=True)
    Server(dashboard_command(params), host=host, port=port, title="emotui").serve()
