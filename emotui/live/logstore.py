"""The prediction log: SQLite (stdlib, WAL), one transaction per analysed frame, and its export.

Tables (columns documented in README.md, "Prediction log and export columns"):
  sessions(id, started, ended, source, model_id, model_checksum, settings JSON, ended_cleanly, end_reason,
           pid, pid_started, host)   ended_cleanly: 1 clean, 0 not (killed, crashed), NULL still running
  predictions(one row per face per analysed frame; a frame without a face has one row with label NULL)
  gaps(session, started, ended, reason, recovered)   times a live source was lost
A process killed mid-session loses at most the frame it was writing; the next LogStore opened on the file marks
its session as ended uncleanly (once the process that owned it is gone).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import secrets
import socket
import sqlite3
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

from .. import config
from ..atomic import atomic_path
from ..errors import EmotuiError, UsageError
from ..events import Prediction
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
FORMATS = ("csv", "jsonl", "parquet")
# How long a statement waits for another connection's lock before failing ("database is locked"). Read when a
# store opens, so tests can shorten it.
BUSY_SECONDS = 10.0
# What makes a SQLite file an emotui log (an older log may lack gaps, which a writer adds).
_OURS = {"sessions": {"id", "started", "ended", "source", "ended_cleanly", "end_reason", "pid", "pid_started", "host"},
         "predictions": set(PREDICTION_COLUMNS)}
_ORPHANED = "process ended without closing the session"

# Decimals kept: a probability to 1e-6 (8 of them still sum to 1 within 1e-5), pixels to a tenth, times to a
# microsecond's worth of milliseconds. More is noise from float32 maths, and 14-digit columns are hard to read.
PROB_DECIMALS, PIXEL_DECIMALS, MS_DECIMALS = 6, 1, 3
_DECIMALS = {"confidence": PROB_DECIMALS, **dict.fromkeys((*PROB_COLUMNS, *SMOOTHED_COLUMNS), PROB_DECIMALS),
             **dict.fromkeys(BBOX_COLUMNS, PIXEL_DECIMALS), **dict.fromkeys(("source_ms", *LATENCY_COLUMNS), MS_DECIMALS)}
_REAL = {"source_ms", "confidence", *PROB_COLUMNS, *SMOOTHED_COLUMNS, *BBOX_COLUMNS, *LATENCY_COLUMNS}
_INT = {"frame", "track", "uncertain"}
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, started TEXT NOT NULL, ended TEXT, source TEXT NOT NULL,
    model_id TEXT, model_checksum TEXT, settings TEXT NOT NULL DEFAULT '{{}}',
    ended_cleanly INTEGER, end_reason TEXT, pid INTEGER, pid_started REAL, host TEXT
);
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY,
    {", ".join(f"{c} {'REAL' if c in _REAL else 'INTEGER' if c in _INT else 'TEXT'}" for c in PREDICTION_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS predictions_session ON predictions (session, id);
CREATE INDEX IF NOT EXISTS predictions_time ON predictions (time);
CREATE TABLE IF NOT EXISTS gaps (
    id INTEGER PRIMARY KEY, session TEXT NOT NULL, started TEXT NOT NULL, ended TEXT, reason TEXT,
    recovered INTEGER NOT NULL DEFAULT 0
);
"""
_INSERT = (
    f"INSERT INTO predictions ({', '.join(PREDICTION_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in PREDICTION_COLUMNS)})"
)


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


def new_session_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class LogError(EmotuiError):
    """The prediction log failed under a running command: locked by another process, a full disk, a damaged file."""


def _process_started(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    started: str
    ended: str | None
    source: str
    model_id: str | None
    model_checksum: str | None
    settings: dict[str, Any]
    ended_cleanly: bool | None  # None: still running
    end_reason: str | None
    frames: int  # analysed frames
    faces: int  # rows with a face
    gaps: int

    @property
    def status(self) -> str:
        return {None: "running", True: "clean", False: "unclean"}[self.ended_cleanly]

    @property
    def seconds(self) -> float:
        """From start to end; a running session up to now."""
        end = datetime.fromisoformat(self.ended) if self.ended else datetime.now(timezone.utc)
        return max(0.0, (end - datetime.fromisoformat(self.started)).total_seconds())


@dataclass(frozen=True, slots=True)
class SessionOverview:
    """What a session's page shows: its figures, its emotion history (LogStore.history) and faces per label."""

    info: SessionInfo
    frames: list[float]
    series: dict[str, list[float]]
    label_counts: dict[str, int]

    @property
    def shares(self) -> dict[str, float]:
        total = sum(self.label_counts.values())
        return {label: n / total for label, n in self.label_counts.items()} if total else {}


class LogStore:
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
            if read_only:
                # Listing and exporting never create, convert or repair anything: a mistyped path is an error, a
                # foreign database stays as it was, and a log on a read-only disk can still be read.
                if not self.path.is_file():
                    raise EmotuiError(f"there is no prediction log at {self.path} yet (run `emotui watch`)")
                self._conn = _connect_read_only(self.path, self.busy)
                _check_ours(self._conn, self.path, empty_ok=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(self.path, timeout=self.busy, check_same_thread=False,
                                             isolation_level=None)
                _check_ours(self._conn, self.path, empty_ok=True)  # before WAL mode converts someone else's file
                self._conn.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode: a committed frame survives the process being killed (not a power cut)
                # without an fsync per frame.
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.executescript(_SCHEMA)
        except (sqlite3.DatabaseError, EmotuiError) as exc:
            with contextlib.suppress(AttributeError, sqlite3.Error):
                self._conn.close()
            if isinstance(exc, EmotuiError):
                raise
            raise EmotuiError(f"cannot open the prediction log {self.path}: {exc}") from None
        self._lock = threading.Lock()
        self._host = socket.gethostname()
        if not read_only:
            self.mark_orphans()

    # ------------------------------------------------------------ writing

    @contextlib.contextmanager
    def _sql(self) -> Iterator[None]:
        """SQLite's errors as one line that says what happened to the log (the frames committed stay)."""
        try:
            yield
        except sqlite3.Error as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                text += f" (another connection held it for over {self.busy:g} s)"
            elif "malformed" in text or "not a database" in text:
                text += " (the file is damaged)"
            raise LogError(f"the prediction log {self.path} failed: {text}") from None

    def _write(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock, self._sql():
            return self._conn.execute(sql, params)

    def start_session(
        self, *, source: str, model_id: str | None = None, model_checksum: str | None = None,
        settings: dict[str, Any] | None = None, session_id: str | None = None,
    ) -> str:
        session = session_id or new_session_id()
        pid = os.getpid()
        self._write(
            "INSERT INTO sessions (id, started, source, model_id, model_checksum, settings, pid, pid_started, host) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session, utc_iso(), source, model_id, model_checksum, json.dumps(settings or {}, sort_keys=True),
             pid, _process_started(pid), self._host),
        )
        return session

    def log_frame(self, predictions: Sequence[Prediction]) -> None:
        """Every row of one analysed frame, in one transaction: a frame is logged whole or not at all."""
        rows = [_row(p) for p in predictions]
        with self._lock, self._sql():
            try:
                self._conn.execute("BEGIN")
                self._conn.executemany(_INSERT, rows)
                self._conn.execute("COMMIT")  # a busy COMMIT leaves the transaction open: rolled back below
            except BaseException:
                if self._conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise

    def open_gap(self, session: str, started: str, reason: str) -> int:
        cur = self._write("INSERT INTO gaps (session, started, reason) VALUES (?, ?, ?)", (session, started, reason))
        return int(cur.lastrowid)

    def close_gap(self, gap: int, ended: str, *, recovered: bool) -> None:
        self._write("UPDATE gaps SET ended = ?, recovered = ? WHERE id = ?", (ended, int(recovered), gap))

    def end_session(self, session: str, *, clean: bool = True, reason: str = "") -> None:
        self._write(
            "UPDATE sessions SET ended = ?, ended_cleanly = ?, end_reason = ? WHERE id = ?",
            (utc_iso(), int(clean), reason, session),
        )

    def mark_orphans(self) -> list[str]:
        """Sessions left open by a process that no longer runs: mark them ended uncleanly at their last row."""
        with self._lock, self._sql():
            open_rows = self._conn.execute(
                "SELECT id, pid, pid_started, host FROM sessions WHERE ended_cleanly IS NULL"
            ).fetchall()
        orphans = []
        for session, pid, pid_started, host in open_rows:
            if not self._orphaned(pid, pid_started, host):
                continue
            self._write(
                "UPDATE sessions SET ended_cleanly = 0, end_reason = ?, "
                "ended = COALESCE((SELECT MAX(time) FROM predictions WHERE session = ?), started) "
                "WHERE id = ? AND ended_cleanly IS NULL",
                (_ORPHANED, session, session),
            )
            self._write("UPDATE gaps SET ended = COALESCE(ended, started) WHERE session = ?", (session,))
            orphans.append(session)
        return orphans

    def _orphaned(self, pid: int | None, pid_started: float | None, host: str | None) -> bool:
        if host != self._host:
            return False  # another machine's process: we cannot tell whether it still runs
        started = _process_started(pid) if pid else None
        return not (started is not None and (pid_started is None or abs(started - pid_started) < 1.0))

    # ------------------------------------------------------------ reading

    def sessions(self) -> list[SessionInfo]:
        """All sessions, oldest first."""
        return self._infos("", ())

    def session(self, session: str) -> SessionInfo:
        """One session by id or unique id prefix."""
        matches = self._infos("WHERE s.id = ?", (session,)) or self._infos(
            "WHERE substr(s.id, 1, ?) = ?", (len(session), session))
        if len(matches) != 1:
            what = "matches several sessions in the log" if matches else "is not in the log"
            raise EmotuiError(f"session {session!r} {what} {self.path} (see `emotui sessions`)")
        return matches[0]

    def _infos(self, where: str, params: Sequence[Any]) -> list[SessionInfo]:
        with self._lock, self._sql():
            rows = self._conn.execute(
                f"""SELECT s.id, s.started, s.ended, s.source, s.model_id, s.model_checksum, s.settings,
                          s.ended_cleanly, s.end_reason,
                          (SELECT COUNT(DISTINCT frame) FROM predictions p WHERE p.session = s.id),
                          (SELECT COUNT(*) FROM predictions p WHERE p.session = s.id AND p.label IS NOT NULL),
                          (SELECT COUNT(*) FROM gaps g WHERE g.session = s.id),
                          s.pid, s.pid_started, s.host,
                          (SELECT MAX(time) FROM predictions p WHERE p.session = s.id)
                   FROM sessions s {where} ORDER BY s.started, s.id""",
                params,
            ).fetchall()
        infos = []
        for r in rows:
            clean, reason, ended = None if r[7] is None else bool(r[7]), r[8], r[2]
            # A reader does not write the orphan mark, but reports what a writer would record.
            if clean is None and self.read_only and self._orphaned(r[12], r[13], r[14]):
                clean, reason, ended = False, _ORPHANED, r[15] or r[1]
            infos.append(SessionInfo(r[0], r[1], ended, r[3], r[4], r[5], json.loads(r[6] or "{}"), clean, reason,
                                     r[9], r[10], r[11]))
        return infos

    def history(self, session: str, points: int = 400) -> tuple[list[float], dict[str, list[float]]]:
        """The smoothed probabilities of each analysed frame's first (largest) face, as the monitor charts them:
        (frame numbers, class -> values). A session of more frames than `points` is averaged over equal spans of
        frame numbers, so an hour's session reads as fast as a minute's and still fits a chart's width."""
        sid = self.session(session).id
        first_faces = ("FROM predictions WHERE id IN (SELECT MIN(id) FROM predictions WHERE session = ? "
                       "GROUP BY frame) AND label IS NOT NULL")
        with self._lock, self._sql():
            low, high = self._conn.execute(f"SELECT MIN(frame), MAX(frame) {first_faces}", (sid,)).fetchone()
            if low is None:
                return [], {c: [] for c in CLASSES}
            span = (high - low + 1) / max(1, points)
            bucket = "frame" if span <= 1 else f"CAST((frame - {int(low)}) / {span!r} AS INTEGER)"
            rows = self._conn.execute(
                f"SELECT AVG(frame), {', '.join(f'AVG({c})' for c in SMOOTHED_COLUMNS)} {first_faces} "
                f"GROUP BY {bucket} ORDER BY MIN(frame)", (sid,)).fetchall()
        return [r[0] for r in rows], {c: [r[i] or 0.0 for r in rows] for i, c in enumerate(CLASSES, 1)}

    def label_counts(self, session: str) -> dict[str, int]:
        """Faces per label over the whole session (every face of every analysed frame), in class order."""
        sid = self.session(session).id
        with self._lock, self._sql():
            found = dict(self._conn.execute(
                "SELECT label, COUNT(*) FROM predictions WHERE session = ? AND label IS NOT NULL GROUP BY label",
                (sid,)).fetchall())
        return {c: int(found.pop(c, 0)) for c in CLASSES} | {str(k): int(v) for k, v in found.items()}

    def overview(self, session: str, points: int = 400) -> SessionOverview:
        info = self.session(session)
        frames, series = self.history(info.id, points)
        return SessionOverview(info, frames, series, self.label_counts(info.id))

    def gaps(self, session: str) -> list[dict[str, Any]]:
        with self._lock, self._sql():
            rows = self._conn.execute(
                "SELECT started, ended, reason, recovered FROM gaps WHERE session = ? ORDER BY id", (session,)
            ).fetchall()
        return [dict(started=a, ended=b, reason=c, recovered=bool(d)) for a, b, c, d in rows]

    def latest_session(self) -> str | None:
        with self._lock, self._sql():
            row = self._conn.execute("SELECT id FROM sessions ORDER BY started DESC, id DESC LIMIT 1").fetchone()
        return row[0] if row else None

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
            params.append(self.session(session).id)
        elif not all_sessions and since is None and until is None:
            latest = self.latest_session()
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
            reader = _connect_read_only(self.path, self.busy)
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
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
                return _write_text(fmt, rows, fh)
        return _write_text(fmt, rows, out)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect_read_only(path: Path, busy: float) -> sqlite3.Connection:
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
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _check_ours(conn: sqlite3.Connection, path: Path, *, empty_ok: bool) -> None:
    """Refuse a SQLite file that is not an emotui log, before anything is written to it."""
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables and empty_ok:
        return  # a new log
    for table, columns in _OURS.items():
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")} if table in tables else set()
        if not columns <= have:
            found = ", ".join(sorted(tables)[:5]) or "no tables"
            raise EmotuiError(f"{path} is not an emotui prediction log (it has {found}); give another --db")


def rounded(value: Any, decimals: int) -> Any:
    return round(float(value), decimals) if value is not None else None


def _rounded_row(row: Sequence) -> tuple:
    return tuple(rounded(v, _DECIMALS[c]) if c in _DECIMALS else v for c, v in zip(PREDICTION_COLUMNS, row))


def _row(p: Prediction) -> tuple:
    face = p.label is not None
    probs = [p.probabilities.get(c) for c in CLASSES] if face else [None] * len(CLASSES)
    smoothed = [p.smoothed.get(c) for c in CLASSES] if face else [None] * len(CLASSES)
    bbox = list(p.bbox) if p.bbox is not None else [None] * 4
    latency = [p.latency_ms.get(k) for k in LATENCY_KEYS]
    return _rounded_row((
        p.session, p.time, p.frame, p.source_ms, p.track, p.label, p.confidence if face else None,
        int(p.uncertain) if face else None, *probs, *smoothed, *bbox, *latency,
    ))


def prediction_record(p: Prediction) -> dict[str, Any]:
    """A prediction as `watch --json` prints it: the values rounded as the log keeps them, so that what was
    printed and what `export` writes later are the same numbers."""
    face = p.label is not None

    def probs(values: dict[str, float] | None) -> dict[str, float] | None:
        return {c: rounded(v, PROB_DECIMALS) for c, v in values.items()} if face and values is not None else None

    return {
        "time": p.time, "session": p.session, "frame": p.frame, "source_ms": rounded(p.source_ms, MS_DECIMALS),
        "track": p.track, "label": p.label, "confidence": rounded(p.confidence, PROB_DECIMALS) if face else None,
        "uncertain": p.uncertain if face else None, "calibrated": p.calibrated if face else None,
        "probabilities": probs(p.probabilities), "smoothed": probs(p.smoothed),
        "bbox": [rounded(v, PIXEL_DECIMALS) for v in p.bbox] if p.bbox is not None else None,
        "latency_ms": {k: rounded(v, MS_DECIMALS) for k, v in p.latency_ms.items()},
    }


def _write_text(fmt: str, rows: Iterator[tuple], fh: IO) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(PREDICTION_COLUMNS)
        for row in rows:
            writer.writerow(_rounded_row(row))  # rows logged before the log rounded them, too
            count += 1
    else:
        for row in rows:
            fh.write(json.dumps(dict(zip(PREDICTION_COLUMNS, _rounded_row(row)))) + "\n")
            count += 1
    fh.flush()
    return count


def _arrow_schema():
    import pyarrow as pa

    def kind(column: str):
        if column in _REAL:
            return pa.float64()
        if column == "uncertain":
            return pa.int8()
        if column in _INT:
            return pa.int64()
        return pa.string()

    return pa.schema([pa.field(c, kind(c)) for c in PREDICTION_COLUMNS], metadata={b"emotui.classes": ",".join(CLASSES).encode()})


def _write_parquet(rows: Iterator[tuple], out: str | os.PathLike | IO) -> int:
    if isinstance(out, (str, os.PathLike)):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
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
