"""What a prediction log file is: its tables and columns, the form of its values (UTC times, rounded numbers), how
it is opened, and the base every part of LogStore stands on (the connection, its lock, SQLite errors as LogError).

The tables are described in logstore's docstring and in README.md ("Prediction log and export columns").
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..errors import EmotuiError, UsageError
from ..labels import CLASSES

PROB_COLUMNS = tuple(f"p_{c}" for c in CLASSES)
SMOOTHED_COLUMNS = tuple(f"s_{c}" for c in CLASSES)
BBOX_COLUMNS = ("bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1")
LATENCY_KEYS = ("capture", "landmarks", "classify", "total")
LATENCY_COLUMNS = tuple(f"{k}_ms" for k in LATENCY_KEYS)
PREDICTION_COLUMNS = (
    "session", "time", "frame", "source_ms", "track", "label", "confidence", "uncertain",
    *PROB_COLUMNS, *SMOOTHED_COLUMNS, *BBOX_COLUMNS, *LATENCY_COLUMNS,
)
# What makes a SQLite file an emotui log (an older log may lack gaps, which a writer adds).
_OURS = {"sessions": {"id", "started", "ended", "source", "ended_cleanly", "end_reason", "pid", "pid_started", "host"},
         "predictions": set(PREDICTION_COLUMNS)}
ORPHANED = "process ended without closing the session"

# Decimals kept: a probability to 1e-6 (8 of them still sum to 1 within 1e-5), pixels to a tenth, times to a
# microsecond's worth of milliseconds. More is noise from float32 maths, and 14-digit columns are hard to read.
PROB_DECIMALS, PIXEL_DECIMALS, MS_DECIMALS = 6, 1, 3
DECIMALS = {"confidence": PROB_DECIMALS, **dict.fromkeys((*PROB_COLUMNS, *SMOOTHED_COLUMNS), PROB_DECIMALS),
            **dict.fromkeys(BBOX_COLUMNS, PIXEL_DECIMALS), **dict.fromkeys(("source_ms", *LATENCY_COLUMNS), MS_DECIMALS)}
REAL_COLUMNS = {"source_ms", "confidence", *PROB_COLUMNS, *SMOOTHED_COLUMNS, *BBOX_COLUMNS, *LATENCY_COLUMNS}
INT_COLUMNS = {"frame", "track", "uncertain"}
# CREATE ... IF NOT EXISTS is the whole migration: it adds what an older log lacks (gaps) and leaves the rest.
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, started TEXT NOT NULL, ended TEXT, source TEXT NOT NULL,
    model_id TEXT, model_checksum TEXT, settings TEXT NOT NULL DEFAULT '{{}}',
    ended_cleanly INTEGER, end_reason TEXT, pid INTEGER, pid_started REAL, host TEXT
);
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY,
    {", ".join(f"{c} {'REAL' if c in REAL_COLUMNS else 'INTEGER' if c in INT_COLUMNS else 'TEXT'}"
               for c in PREDICTION_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS predictions_session ON predictions (session, id);
CREATE INDEX IF NOT EXISTS predictions_time ON predictions (time);
CREATE TABLE IF NOT EXISTS gaps (
    id INTEGER PRIMARY KEY, session TEXT NOT NULL, started TEXT NOT NULL, ended TEXT, reason TEXT,
    recovered INTEGER NOT NULL DEFAULT 0
);
"""


def utc_iso(timestamp: float | None = None) -> str:
    """Fixed-width UTC ISO 8601 (sorts as text): 2026-11-24T05:23:24.123456Z."""
    moment = datetime.now(timezone.utc) if timestamp is None else datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> str:
    """An ISO 8601 time (naive = UTC, like the log) or an age such as 30s, 10m, 2h, 7d -> utc_iso text."""
    text = text.strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", text)
    if match:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        moment = datetime.now(timezone.utc) - timedelta(seconds=float(match.group(1)) * unit)
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise UsageError(f"{text!r} is not a time: use ISO 8601 (2026-11-24T09:30) or an age (30s, 10m, 2h, 7d)")
        moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rounded(value: Any, decimals: int) -> Any:
    return round(float(value), decimals) if value is not None else None


def rounded_row(row: Sequence) -> tuple:
    return tuple(rounded(v, DECIMALS[c]) if c in DECIMALS else v for c, v in zip(PREDICTION_COLUMNS, row))


class LogError(EmotuiError):
    """The prediction log failed under a running command: locked by another process, a full disk, a damaged file."""


def process_started(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


class LogConnection:
    """What the writer, the readers and the export share: one connection, the lock that serialises it between
    threads, SQLite's errors said as LogError, and the rule for a session whose process is gone."""

    path: Path
    read_only: bool
    busy: float  # seconds a statement waits for another connection's lock
    _conn: sqlite3.Connection
    _lock: threading.Lock
    _host: str

    @contextlib.contextmanager
    def _sql(self) -> Iterator[None]:
        """SQLite's errors as one line that says what happened to the log (the frames committed stay)."""
        try:
            yield
        except UnicodeDecodeError:  # text that is not UTF-8: bytes overwritten in the file
            raise LogError(f"the prediction log {self.path} failed: it holds text that is not UTF-8 "
                           "(the file is damaged)") from None
        except sqlite3.Error as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                text += f" (another connection held it for over {self.busy:g} s)"
            elif "malformed" in text or "not a database" in text:
                text += " (the file is damaged)"
            raise LogError(f"the prediction log {self.path} failed: {text}") from None

    def _orphaned(self, pid: int | None, pid_started: float | None, host: str | None) -> bool:
        if host != self._host:
            return False  # another machine's process: we cannot tell whether it still runs
        started = process_started(pid) if pid else None
        return not (started is not None and (pid_started is None or abs(started - pid_started) < 1.0))


def open_for_writing(path: Path, busy: float) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=busy, check_same_thread=False, isolation_level=None)
    try:
        check_ours(conn, path, empty_ok=True)  # before WAL mode converts someone else's file
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed frame survives the process being killed (not a power cut) without an
        # fsync per frame.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
    except (sqlite3.DatabaseError, EmotuiError):
        with contextlib.suppress(sqlite3.Error):
            conn.close()
        raise
    return conn


def open_for_reading(path: Path, busy: float) -> sqlite3.Connection:
    """Never creates, converts or repairs anything: a mistyped path is an error, a foreign database stays as it
    was, and a log on a read-only disk can still be read."""
    if not path.is_file():
        raise EmotuiError(f"there is no prediction log at {path} yet (run `emotui watch`)")
    try:
        conn = connect_read_only(path, busy)
    except UnicodeDecodeError:
        raise _damaged(path) from None
    try:
        check_ours(conn, path, empty_ok=False)
    except UnicodeDecodeError:
        with contextlib.suppress(sqlite3.Error):
            conn.close()
        raise _damaged(path) from None
    except (sqlite3.DatabaseError, EmotuiError):
        with contextlib.suppress(sqlite3.Error):
            conn.close()
        raise
    return conn


def _damaged(path: Path) -> EmotuiError:
    """SQLite reads its schema's text as UTF-8: a byte overwritten there is a UnicodeDecodeError, not an sqlite3
    error (found by tests/test_properties_readers.py)."""
    return EmotuiError(f"cannot open the prediction log {path}: its schema is not UTF-8 text (the file is damaged)")


def connect_read_only(path: Path, busy: float) -> sqlite3.Connection:
    """mode=ro; on a read-only disk (or folder), where SQLite cannot make the WAL's shared-memory file, immutable=1,
    which reads the file as it is (no other process can be writing it there)."""
    uri = path.resolve().as_uri()
    try:
        return _open_uri(f"{uri}?mode=ro", busy)
    except sqlite3.OperationalError:
        if os.access(path.parent, os.W_OK):
            raise
        return _open_uri(f"{uri}?mode=ro&immutable=1", busy)


def _open_uri(uri: str, busy: float) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, timeout=busy, check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA query_only=1")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # opening is lazy: fail here, not later
    except (sqlite3.Error, UnicodeDecodeError):
        conn.close()
        raise
    return conn


def check_ours(conn: sqlite3.Connection, path: Path, *, empty_ok: bool) -> None:
    """Refuse a SQLite file that is not an emotui log, before anything is written to it."""
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables and empty_ok:
        return  # a new log
    for table, columns in _OURS.items():
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")} if table in tables else set()
        if not columns <= have:
            found = ", ".join(sorted(tables)[:5]) or "no tables"
            raise EmotuiError(f"{path} is not an emotui prediction log (it has {found}); give another --db")
