"""The prediction log: SQLite (stdlib, WAL), one transaction per analysed frame, and its export.

Tables (columns documented in README.md, "Prediction log and export columns"):
  sessions(id, started, ended, source, model_id, model_checksum, settings JSON, ended_cleanly, end_reason,
           pid, pid_started, host)   ended_cleanly: 1 clean, 0 not (killed, crashed), NULL still running
  predictions(one row per face per analysed frame; a frame without a face has one row with label NULL)
  gaps(session, started, ended, reason, recovered)   times a live source was lost
A process killed mid-session loses at most the frame it was writing; the next LogStore opened on the file marks
its session as ended uncleanly (once the process that owned it is gone).

LogStore is made of parts, each in its module: log_schema (tables, value formats, opening a file), log_writer
(sessions, frames, gaps), log_readers (sessions' figures and history), log_export (rows, csv/jsonl/parquet).
Import them all from here.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from pathlib import Path

from .. import config
from ..errors import EmotuiError
from .log_export import FORMATS, RowExport
from .log_readers import SessionInfo, SessionOverview, SessionReaders
from .log_schema import (
    BBOX_COLUMNS, LATENCY_COLUMNS, LATENCY_KEYS, MS_DECIMALS, PIXEL_DECIMALS, PREDICTION_COLUMNS, PROB_COLUMNS,
    PROB_DECIMALS, SMOOTHED_COLUMNS, LogError, open_for_reading, open_for_writing, parse_time, rounded, utc_iso,
)
from .log_writer import SessionWriter, new_session_id, prediction_record

__all__ = [
    "BBOX_COLUMNS", "BUSY_SECONDS", "FORMATS", "LATENCY_COLUMNS", "LATENCY_KEYS", "MS_DECIMALS", "PIXEL_DECIMALS",
    "PREDICTION_COLUMNS", "PROB_COLUMNS", "PROB_DECIMALS", "SMOOTHED_COLUMNS", "LogError", "LogStore", "SessionInfo",
    "SessionOverview", "new_session_id", "parse_time", "prediction_record", "rounded", "utc_iso",
]

# How long a statement waits for another connection's lock before failing ("database is locked"). Read when a
# store opens, so tests can shorten it.
BUSY_SECONDS = 10.0


class LogStore(SessionWriter, SessionReaders, RowExport):
    """The SQLite prediction log at `path` (default: config.log_db_path(), i.e. $EMOTUI_DB or <data>/emotui.db).

    Safe to share between threads; other processes may read (and export) while a session is being written.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, read_only: bool = False) -> None:
        """`read_only`: for exports and listings beside a running session: no schema set-up, no orphan marking,
        so this connection never takes the write lock the session's writer needs."""
        self.path = Path(path).expanduser() if path else config.log_db_path()
        self.read_only = read_only
        self.busy = BUSY_SECONDS
        try:
            opener = open_for_reading if read_only else open_for_writing
            self._conn = opener(self.path, self.busy)
        except sqlite3.DatabaseError as exc:
            raise EmotuiError(f"cannot open the prediction log {self.path}: {exc}") from None
        self._lock = threading.Lock()
        self._host = socket.gethostname()
        if not read_only:
            self.mark_orphans()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
