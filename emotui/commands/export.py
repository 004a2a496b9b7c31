"""`emotui export`: the prediction log as CSV, JSONL or Parquet."""

from __future__ import annotations

import click

from ..inputs import GIVEN_FILE, OUT_FILE, TEXT
from ..live.logstore import FORMATS


@click.command("export")
@click.option("--session", type=TEXT, help="Session id (or a unique prefix); default: the most recent session.")
@click.option("--all", "all_sessions", is_flag=True, help="Every session.")
@click.option("--since", type=TEXT, help="Rows at or after this time: ISO 8601 (UTC if no zone) or an age like 30m, 2h, 7d.")
@click.option("--until", type=TEXT, help="Rows at or before this time (same forms as --since).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--out", type=OUT_FILE, help="Output file (default: stdout for csv and jsonl).")
@click.option("--db", type=GIVEN_FILE, help="Prediction log database (default: $EMOTUI_DB or <data>/emotui.db).")
def export(session: str | None, all_sessions: bool, since: str | None, until: str | None, fmt: str,
           out: str | None, db: str | None) -> None:
    """Write the prediction log, one row per face per analysed frame, one column per class probability.

    Without --session or --all: the most recent session, or with --since/--until every session in that time.
    """
    from ..errors import UsageError
    from ..live.logstore import LogStore

    if session and all_sessions:
        raise UsageError("give --session or --all, not both")
    if fmt == "parquet" and out is None:
        raise UsageError("parquet is binary: give --out FILE")
    # Read-only: an export never creates, converts or writes to the log it is given.
    with LogStore(db, read_only=True) as store:
        count = store.export(fmt, out, session=session, all_sessions=all_sessions, since=since, until=until)
    if out:
        click.echo(f"emotui: wrote {count} rows to {out}", err=True)
