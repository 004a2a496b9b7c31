"""The prediction log's rows, selected by session or time, streamed and exported as csv, jsonl or parquet."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..atomic import atomic_path
from ..errors import EmotuiError, UsageError
from ..labels import CLASSES
from .log_schema import (
    INT_COLUMNS, PREDICTION_COLUMNS, REAL_COLUMNS, LogConnection, connect_read_only, parse_time, rounded_row,
)

FORMATS = ("csv", "jsonl", "parquet")


class RowExport(LogConnection):
    """LogStore's rows and exports. Picking the default session uses session() and latest_session(), which LogStore
    has from SessionReaders."""

    def rows(
        self, *, session: str | None = None, all_sessions: bool = False, since: str | None = None,
        until: str | None = None,
    ) -> Iterator[tuple]:
        """Prediction rows (PREDICTION_COLUMNS order) of one session (default: the latest), or of all.

        Naming no session but giving since/until looks across all sessions. Times: see parse_time().
        """
        where, params = [], []
        if session is not None:
            where.append("session = ?")
            params.append(self.session(session).id)  # type: ignore[attr-defined]
        elif not all_sessions and since is None and until is None:
            latest = self.latest_session()  # type: ignore[attr-defined]
            if latest is None:
                raise EmotuiError(f"the prediction log {self.path} has no sessions yet (run `emotui watch`)")
            where.append("session = ?")
            params.append(latest)
        if since is not None:
            where.append("time >= ?")
            params.append(parse_time(since))
        if until is not None:
            where.append("time <= ?")
            params.append(parse_time(until))
        sql = f"SELECT {', '.join(PREDICTION_COLUMNS)} FROM predictions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        return self._stream(sql, params)

    def _stream(self, sql: str, params: list[Any]) -> Iterator[tuple]:
        # Its own read-only connection in autocommit mode: an export may run while this store (or another
        # process) logs a session; in WAL mode such a reader never blocks the writer, nor waits for it.
        with self._sql():
            reader = connect_read_only(self.path, self.busy)
        try:
            with self._sql():
                cursor = reader.execute(sql, params)
                batch = cursor.fetchmany(1000)
            while batch:
                yield from batch
                with self._sql():
                    batch = cursor.fetchmany(1000)
        finally:
            reader.close()

    def export(
        self, fmt: str, out: str | os.PathLike | IO | None = None, *, session: str | None = None,
        all_sessions: bool = False, since: str | None = None, until: str | None = None,
    ) -> int:
        """Write the selected rows as csv, jsonl or parquet to a path or an open file (stdout when None for csv and
        jsonl). Returns the number of rows."""
        if fmt not in FORMATS:
            raise UsageError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
        if fmt == "parquet" and out is None:
            raise UsageError("parquet is binary: give --out FILE")
        rows = self.rows(session=session, all_sessions=all_sessions, since=since, until=until)
        if fmt == "parquet":
            return _write_parquet(rows, out)
        if out is None:
            return _write_text(fmt, rows, sys.stdout)
        if isinstance(out, (str, os.PathLike)):
            # Into a temporary file, renamed when complete: a full disk never leaves half an export in `out`.
            _check_folder(out)
            with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
                return _write_text(fmt, rows, fh)
        return _write_text(fmt, rows, out)


def _write_text(fmt: str, rows: Iterator[tuple], fh: IO) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(PREDICTION_COLUMNS)
        for row in rows:
            writer.writerow(rounded_row(row))  # rows logged before the log rounded them, too
            count += 1
    else:
        for row in rows:
            fh.write(json.dumps(dict(zip(PREDICTION_COLUMNS, rounded_row(row)))) + "\n")
            count += 1
    fh.flush()
    return count


def _arrow_schema():
    import pyarrow as pa

    def kind(column: str):
        if column in REAL_COLUMNS:
            return pa.float64()
        if column == "uncertain":
            return pa.int8()
        if column in INT_COLUMNS:
            return pa.int64()
        return pa.string()

    return pa.schema([pa.field(c, kind(c)) for c in PREDICTION_COLUMNS], metadata={b"emotui.classes": ",".join(CLASSES).encode()})


def _check_folder(out: str | os.PathLike) -> None:
    """A mistyped folder (`--out /nonexistent/dir/x.csv`) is the user's mistake to hear of, not a new tree."""
    folder = Path(out).expanduser().parent
    if not folder.is_dir():
        why = f"{folder} is a file, not a folder" if folder.exists() else f"the folder {folder} does not exist"
        raise UsageError(f"cannot write {out}: {why}")


def _write_parquet(rows: Iterator[tuple], out: str | os.PathLike | IO) -> int:
    if isinstance(out, (str, os.PathLike)):
        _check_folder(out)
        with atomic_path(out) as tmp:
            return _write_parquet_to(rows, str(tmp))
    return _write_parquet_to(rows, out)


def _write_parquet_to(rows: Iterator[tuple], out: str | IO) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema()
    count = 0
    with pq.ParquetWriter(out, schema) as writer:
        batch: list[tuple] = []

        def flush() -> None:
            columns = list(zip(*batch)) if batch else [[] for _ in PREDICTION_COLUMNS]
            writer.write_table(pa.Table.from_arrays([pa.array(col, type=f.type) for col, f in zip(columns, schema)],
                                                    schema=schema))

        for row in rows:
            batch.append(row)
            count += 1
            if len(batch) >= 10_000:
                flush()
                batch = []
        if batch or count == 0:
            flush()
    return count
