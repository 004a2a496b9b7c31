"""Reading the prediction log's sessions: their figures (SessionInfo), gaps, emotion history and faces per label,
as `emotui sessions` and the dashboard's session pages show them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..errors import EmotuiError
from ..labels import CLASSES
from .log_schema import ORPHANED, SMOOTHED_COLUMNS, LogConnection


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


class SessionReaders(LogConnection):
    """LogStore's questions about sessions. Each holds the store's lock only while its own statements run, so
    threads may share the store."""

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
                clean, reason, ended = False, ORPHANED, r[15] or r[1]
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
