"""Writing the prediction log: a session's start and end, each analysed frame as one transaction, the gaps of a
lost source, and the unclean end of sessions whose process died; and a Prediction as the log keeps it."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from ..events import Prediction
from ..labels import CLASSES
from .log_schema import (
    LATENCY_KEYS, MS_DECIMALS, ORPHANED, PIXEL_DECIMALS, PREDICTION_COLUMNS, PROB_DECIMALS, LogConnection,
    process_started, rounded, rounded_row, utc_iso,
)

_INSERT = (
    f"INSERT INTO predictions ({', '.join(PREDICTION_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in PREDICTION_COLUMNS)})"
)


def new_session_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class SessionWriter(LogConnection):
    """LogStore's writing half. Each write takes the lock, so threads may share one store."""

    def _write(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock, self._sql():
            return self._conn.execute(sql, params)

    def start_session(
        self, *, source: str, model_id: str | None = None, model_checksum: str | None = None,
        settings: dict[str, Any] | None = None, session_id: str | None = None,
    ) -> str:
        session = session_id or new_session_id()
        pid = os.getpid()
        # The process and its start time let a later store tell a session still running from one whose process
        # died (a reused pid has another start time).
        self._write(
            "INSERT INTO sessions (id, started, source, model_id, model_checksum, settings, pid, pid_started, host) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session, utc_iso(), source, model_id, model_checksum, json.dumps(settings or {}, sort_keys=True),
             pid, process_started(pid), self._host),
        )
        return session

    def update_settings(self, session: str, **changes: Any) -> None:
        """Add to a session's settings what only became known while it ran (the neutral faces set)."""
        with self._lock, self._sql():
            row = self._conn.execute("SELECT settings FROM sessions WHERE id = ?", (session,)).fetchone()
            settings = {**json.loads(row[0] or "{}"), **changes} if row else dict(changes)
            self._conn.execute("UPDATE sessions SET settings = ? WHERE id = ?",
                               (json.dumps(settings, sort_keys=True), session))

    def log_frame(self, predictions: Sequence[Prediction]) -> None:
        """Every row of one analysed frame, in one transaction: a frame is logged whole or not at all."""
        rows = [frame_row(p) for p in predictions]
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
                (ORPHANED, session, session),
            )
            self._write("UPDATE gaps SET ended = COALESCE(ended, started) WHERE session = ?", (session,))
            orphans.append(session)
        return orphans


def frame_row(p: Prediction) -> tuple:
    """One prediction as a row of PREDICTION_COLUMNS; a frame without a face has no label and no probabilities."""
    face = p.label is not None
    probs = [p.probabilities.get(c) for c in CLASSES] if face else [None] * len(CLASSES)
    smoothed = [p.smoothed.get(c) for c in CLASSES] if face else [None] * len(CLASSES)
    bbox = list(p.bbox) if p.bbox is not None else [None] * 4
    latency = [p.latency_ms.get(k) for k in LATENCY_KEYS]
    return rounded_row((
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
        "neutral": p.neutral if face else None,
        "probabilities": probs(p.probabilities), "smoothed": probs(p.smoothed),
        "bbox": [rounded(v, PIXEL_DECIMALS) for v in p.bbox] if p.bbox is not None else None,
        "latency_ms": {k: rounded(v, MS_DECIMALS) for k, v in p.latency_ms.items()},
    }
