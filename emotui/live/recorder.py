"""Where a watch session's results go, all from the watch thread: the log (one transaction per analysed frame, the
gaps of a lost source, the session's end), the caller's events, and the figures of its MonitorSummary."""

from __future__ import annotations

import queue
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_bytes
from ..errors import SourceError, WriteError
from ..events import EventHandler, Finished, ItemFailed, Prediction, SourceState
from .logstore import LogError, LogStore, utc_iso


@dataclass(slots=True)
class MonitorSummary:
    session: str
    source: str
    reason: str  # frames | duration | stopped | source ended | source lost | error: ...
    frames_read: int = 0
    frames_analysed: int = 0
    faces: int = 0  # face rows logged
    no_face_frames: int = 0
    unreadable: int = 0
    skipped: int = 0  # frames read but not analysed (interval, or a newer frame was already there)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)  # means over analysed frames
    log_ms: float = 0.0  # mean time to write one frame to the log
    db: str | None = None

    @property
    def fps(self) -> float:
        return self.frames_analysed / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fps": self.fps}


class SessionRecorder:
    """One session's log rows, events and summary. A frame's events follow its log transaction, so whoever sees a
    Prediction can find its row in the log."""

    def __init__(self, src, log: LogStore, session: str, on_event: EventHandler, *, save_frames) -> None:
        self.src, self.log, self.session, self.on_event = src, log, session, on_event
        self.frames_dir = Path(save_frames) / session if save_frames else None
        if self.frames_dir:
            self.frames_dir.mkdir(parents=True, exist_ok=True)
        self.summary = MonitorSummary(session=session, source=src.spec, reason="", db=str(log.path))
        self.sums = dict.fromkeys(("capture", "landmarks", "classify", "classify_cpu", "total"), 0.0)
        self.log_total = 0.0
        self.open_gap: int | None = None

    def record(self, frame, records: list[dict[str, Any]], latency: dict[str, float]) -> None:
        """An analysed frame (FaceAnalysis.conclude's records and latencies): logged whole, then announced."""
        t0 = time.perf_counter()
        when = utc_iso(frame.wall_time)
        predictions = [Prediction(time=when, session=self.session, frame=frame.index, latency_ms=latency,
                                  source_ms=float(frame.timestamp_ms), **r) for r in records]
        self.log.log_frame(predictions)
        self.log_total += (time.perf_counter() - t0) * 1000.0
        if self.frames_dir is not None:
            save_frame(self.frames_dir, frame)
        faces = sum(r["label"] is not None for r in records)
        self.summary.frames_analysed += 1
        self.summary.faces += faces
        self.summary.no_face_frames += faces == 0
        for key in self.sums:
            self.sums[key] += latency[key]
        for prediction in predictions:
            self.on_event(prediction)

    def report(self, notices: queue.SimpleQueue) -> None:
        """What the capture thread said: unreadable frames, a lost source, retries, its return or loss."""
        summary = self.summary
        while True:
            try:
                kind, *detail = notices.get_nowait()
            except queue.Empty:
                return
            if kind == "unreadable":
                summary.unreadable += 1
                self.on_event(ItemFailed("monitor", self.src.spec, "unreadable", detail[0]))
            elif kind == "lost":
                message, when = detail
                self.open_gap = self.log.open_gap(self.session, utc_iso(when), message)
                summary.gaps.append({"started": utc_iso(when), "ended": None, "reason": message, "recovered": False})
                self.on_event(SourceState("lost", message))
            elif kind == "retrying":
                self.on_event(SourceState("retrying", detail[0]))
            elif kind in ("recovered", "gave_up"):
                recovered = kind == "recovered"
                if self.open_gap is not None:
                    self.log.close_gap(self.open_gap, utc_iso(detail[0]), recovered=recovered)
                    summary.gaps[-1].update(ended=utc_iso(detail[0]), recovered=recovered)
                    self.open_gap = None
                if recovered:
                    self.on_event(SourceState("open", f"{self.src.describe()} is back"))
                else:
                    summary.reason = "source lost"
                    self.on_event(SourceState("lost", detail[1]))
            elif kind == "error":
                raise SourceError(f"reading {self.src.spec} failed: {detail[0]}") from detail[0]

    def summarise(self, *, frames_read: int, skipped: int, seconds: float) -> None:
        """The figures only the end knows; latencies as means over the analysed frames."""
        summary = self.summary
        summary.frames_read, summary.skipped, summary.seconds = frames_read, skipped, seconds
        n = max(summary.frames_analysed, 1)
        summary.latency_ms = {k: v / n for k, v in self.sums.items()}
        summary.log_ms = self.log_total / n

    def close_session(self, *, clean: bool, failing: bool) -> None:
        """Record the end. When the log itself is what failed (locked by another process, a full disk, a damaged
        file) this may fail too: the error that ended the session is the one reported, every frame committed so
        far stays, and the session, left open, is marked unclean by the next emotui command once this process
        has ended."""
        try:
            if self.open_gap is not None:
                self.log.close_gap(self.open_gap, utc_iso(), recovered=False)
            self.log.end_session(self.session, clean=clean, reason=self.summary.reason)
        except LogError:
            if not failing:
                raise

    def announce_end(self) -> None:
        self.on_event(SourceState("ended", self.summary.reason))
        self.on_event(Finished("monitor", self.summary.as_dict(), cancelled=self.summary.reason == "stopped"))


def save_frame(folder: Path, frame) -> None:
    """Encoded in memory and written by Python, whole or not at all: cv2.imwrite reports a full disk only as a
    False that is easy to miss, and may leave half a JPEG."""
    import cv2

    encoded, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))
    if not encoded:
        raise WriteError(f"cannot encode frame {frame.index} as JPEG for {folder}")
    atomic_write_bytes(folder / f"frame_{frame.index:06d}.jpg", jpeg.tobytes())
