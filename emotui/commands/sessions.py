"""`emotui sessions`: the monitoring sessions in the prediction log."""

from __future__ import annotations

import json
from dataclasses import asdict

import click


@click.command("sessions")
@click.option("--db", type=click.Path(dir_okay=False), help="Prediction log database (default: $EMOTUI_DB or <data>/emotui.db).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per session.")
def sessions(db: str | None, as_json: bool) -> None:
    """List the sessions in the prediction log, oldest first."""
    from .render import output_console
    from rich.table import Table

    from .. import config
    from ..live.logstore import LogStore
    from ..progress_render import shown

    if db is None and not config.log_db_path().exists():
        click.echo(f"no sessions in {config.log_db_path()} yet (run `emotui watch`)", err=True)
        return
    # Read-only: a listing never creates, converts or writes to the file it is given.
    with LogStore(db, read_only=True) as store:
        found = store.sessions()
        path = store.path
    if as_json:
        for info in found:
            click.echo(json.dumps({**asdict(info), "status": info.status}))
        return
    if not found:
        click.echo(f"no sessions in {path} yet (run `emotui watch`)", err=True)
        return
    # The source, the model and the path are the user's names (a video `a[/]b.mp4`): text, never markup.
    table = Table(title=f"sessions in {shown(path)}", title_justify="left")
    for name in ("session", "started (UTC)", "ended", "frames", "faces", "gaps", "status", "source", "model"):
        table.add_column(name, justify="right" if name in ("frames", "faces", "gaps") else "left")
    for info in found:
        status = info.status + (f" ({info.end_reason})" if info.end_reason else "")
        table.add_row(shown(info.id), shown(info.started[:19].replace("T", " ")), shown((info.ended or "")[11:19]),
                      str(info.frames), str(info.faces), str(info.gaps), shown(status), shown(info.source),
                      shown(info.model_id or ""))
    output_console().print(table)  # piped or redirected: one line per session, never folded
