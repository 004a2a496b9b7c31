"""`emotui serve`: the dashboard in a web browser through textual-serve; each browser tab runs its own app."""

from __future__ import annotations

import shlex
import socket
import sys

import click

from ..errors import UsageError


def dashboard_command(params: dict) -> str:
    """The command line textual-serve starts per browser session, with the group's dashboard options."""
    words = [sys.executable, "-m", "emotui"]
    for name in ("data", "source", "model", "interval", "landmarker"):
        value = params.get(name)
        if value is not None:
            words += [f"--{name}", str(value)]
    return shlex.join(words)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. The dashboard can start jobs and read files: keep it local unless "
                   "you mean to share it (0.0.0.0 listens on every interface).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--max-sessions", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Browser tabs served at once (each runs its own dashboard process); more are refused.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, max_sessions: int) -> None:
    """Serve the dashboard to a web browser (exports are delivered as downloads).

    Prints a URL with a random token, as Jupyter does; the page and its websocket need it.
    """
    from ..tui.web_access import is_loopback, public_urls
    from ..tui.web_server import DashboardServer

    params = ctx.parent.params if ctx.parent else {}
    if not is_loopback(host):
        click.echo(f"emotui: warning: --host {host} exposes the dashboard to the network (it can start jobs "
                   "and read files); the token in the URL is required", err=True)
    server: DashboardServer

    def announce() -> None:
        urls = "\n".join(f"    {url}" for url in public_urls(host, port, server.token))
        click.echo(f"emotui: serving the dashboard (at most {max_sessions} sessions; Ctrl-C stops). "
                   f"Open this URL in a browser:\n{urls}", err=True)

    server = DashboardServer(dashboard_command(params), host=host, port=port, max_sessions=max_sessions,
                             announce=announce)
    try:
        server.serve()
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: {exc.strerror}") from None
