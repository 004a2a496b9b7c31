"""The live monitor: a capture thread keeps draining the source; the calling thread analyses a fresh frame every
`interval` seconds (0 = every frame), tracks faces, smooths probabilities, logs each frame and emits events.

run_monitor() is the one entry point, shared by `emotui watch` and the dashboard (which runs it in a thread worker).
The watch loop (_Watch) joins three parts: capture (_Capture, _Handoff, _FramePacer here), analysis
(analysis.FaceAnalysis: landmarks, classifier, tracks, smoothing) and hand-off (recorder.SessionRecorder: the
log, the events, the summary).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .analysis import FaceAnalysis, Pending, class_order, one_torch_thread
from .camera import FrameSource, SourceLost, UnreadableFrame, open_source
from ..errors import SourceError, UsageError
from ..events import EventHandler, SourceState, ignore
from .logstore import LogStore
from .neutral import NeutralPins, record_neutrals
from .recorder import MonitorSummary, SessionRecorder
from .smoothing import EmaSmoother

UNCERTAIN_BELOW = 0.4
# From this interval (s) on, each analysed frame is meshed a second time, mirrored (mirror view "detect"): the pass
# costs ~20 ms, nothing against seconds of waiting, and a second reading gains ~0.5 point over a derived view; at
# real time it would halve the frame rate, so each face's view is derived from its one mesh ("derive", what a
# default `extract` gives training faces) and the smoother's average over frames does the rest.
MIRROR_VIEW_FROM = 1.0
_END = object()


class _Handoff:
    """Frames from the capture thread to the analyser. Lossless: the reader waits for the analyser (a file read
    --fast). Otherwise only the newest frame is kept, so the analyser never works on one that sat in a buffer."""

    def __init__(self, lossless: bool) -> None:
        self.lossless = lossless
        self._cond = threading.Condition()
        self._frame = None
        self._closed = False
        self.overwritten = 0

    def put(self, frame, halt: threading.Event) -> None:
        with self._cond:
            if self.lossless:
                while self._frame is not None and not halt.is_set():
                    self._cond.wait(0.1)
            elif self._frame is not None:
                self.overwritten += 1
            self._frame = frame
            self._cond.notify_all()

    def take(self, timeout: float):
        """The next frame, None if none came within timeout, or _END once the source is done."""
        with self._cond:
            if self._frame is None and not self._closed:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            if frame is not None:
                self._cond.notify_all()
                return frame
            return _END if self._closed else None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class _Capture(threading.Thread):
    """Reads the source continuously; paces files at their real rate; retries a lost live source with backoff.

    It reports to the analyser through `notices` so that events and log writes all happen in one thread.
    """

    def __init__(self, source: FrameSource, *, lossless: bool, paced: bool, reconnect_timeout: float,
                 backoff: tuple[float, float]) -> None:
        super().__init__(name="emotui-capture", daemon=True)
        self.source = source
        self.handoff = _Handoff(lossless)
        self.paced = paced
        self.reconnect_timeout = reconnect_timeout
        self.backoff = backoff
        self.halt = threading.Event()
        self.notices: queue.SimpleQueue = queue.SimpleQueue()
        self.frames_read = 0
        # While a loss is being recovered: its deadline, attempts and next wait. A reopen that opens but gives no
        # frame is not a recovery, so the deadline holds until a frame arrives.
        self._outage: dict | None = None

    def run(self) -> None:
        origin = None
        try:
            while not self.halt.is_set():
                try:
                    frame = self.source.read()
                except UnreadableFrame as exc:
                    self.notices.put(("unreadable", str(exc)))
                    continue
                except SourceLost as exc:
                    if not self._recover(str(exc)):
                        break
                    continue
                if frame is None:
                    break
                if self._outage is not None:
                    self._outage = None
                    self.notices.put(("recovered", time.time()))
                self.frames_read += 1
                if self.paced:
                    if origin is None:
                        origin = time.monotonic() - frame.timestamp_ms / 1000.0
                    delay = origin + frame.timestamp_ms / 1000.0 - time.monotonic()
                    if delay > 0 and self.halt.wait(delay):
                        break
                    frame.wall_time = time.time()  # the moment a camera would have delivered it
                self.handoff.put(frame, self.halt)
        except BaseException as exc:  # noqa: BLE001 - handed to the analyser, which reports it
            self.notices.put(("error", exc))
        finally:
            self.handoff.close()

    def _recover(self, message: str) -> bool:
        """Reopen the source until it opens or the deadline passes; the loss counts as recovered (in run) only
        when a frame arrives."""
        if self._outage is None:
            self.notices.put(("lost", message, time.time()))
            self._outage = {"deadline": time.monotonic() + self.reconnect_timeout, "delay": self.backoff[0],
                            "attempt": 0}
        outage, longest = self._outage, self.backoff[1]
        while not self.halt.is_set():
            remaining = outage["deadline"] - time.monotonic()
            if remaining <= 0:
                break
            outage["attempt"] += 1
            wait = min(outage["delay"], remaining)
            self.notices.put(("retrying", f"reconnecting to {self.source.spec} (attempt {outage['attempt']}) "
                                          f"in {wait:.1f} s"))
            if self.halt.wait(wait):
                return False
            outage["delay"] = min(outage["delay"] * 2, longest)
            try:
                self.source.reopen()
            except SourceError:
                continue
            return True
        if not self.halt.is_set():
            self.notices.put(("gave_up", time.time(), f"{message}; gave up after {self.reconnect_timeout:g} s"))
        return False


class _FramePacer:
    """Which frames are analysed. With an interval, the first frame at or after each due time; one from before it
    is skipped, never analysed late. The clock is the video's own time when read --fast, else the wall clock."""

    def __init__(self, interval: float, fast: bool) -> None:
        self.interval, self.fast = interval, fast
        self.next_due: float | None = None
        self.skipped = 0

    def wait(self) -> float:
        """Seconds until the next frame is due when watching in real time (0: look for a frame now)."""
        if self.fast or self.interval <= 0 or self.next_due is None:
            return 0.0
        return self.next_due - time.time()

    def due(self, frame) -> bool:
        if self.interval <= 0:
            return True
        clock = frame.timestamp_ms / 1000.0 if self.fast else frame.wall_time
        if self.next_due is not None and clock < self.next_due:
            self.skipped += 1
            return False
        # Due times keep to their grid, so frames stay `interval` apart on average; after a whole interval without a
        # frame (a gap, a slow analysis) the grid starts again from this one.
        due, step = self.next_due, self.interval
        self.next_due = clock + step if due is None or due + step <= clock else due + step
        return True


def run_monitor(
    source: FrameSource | str | int | os.PathLike,
    *,
    predictor: Any,
    interval: float = 5.0,
    max_faces: int = 1,
    smooth: float = 0.5,
    duration: float | None = None,
    frames: int | None = None,
    fast: bool = False,
    store: LogStore | None = None,
    on_event: EventHandler = ignore,
    stop: threading.Event | None = None,
    uncertain_below: float = UNCERTAIN_BELOW,
    save_frames: str | os.PathLike | None = None,
    landmarker: str | os.PathLike | None = None,
    backend: str = "auto",
    resolution: tuple[int, int] | None = None,
    reconnect_timeout: float = 30.0,
    backoff: tuple[float, float] = (0.5, 8.0),
    neutral: NeutralPins | None = None,
) -> MonitorSummary:
    """Watch `source` (a FrameSource or a spec for camera.open_source) until it ends, `duration` seconds (wall
    clock) pass, `frames` frames are analysed, or `stop` is set. One session in `store` (default: the log at
    config.log_db_path()). Emits SourceState, Prediction (one per face, or one no-face record, per analysed
    frame), ItemFailed for unreadable frames and Finished(stage="monitor").

    `fast`: files and folders are read as fast as possible and `interval` counts in the video's own time;
    otherwise files play at their real rate, like a camera, and `interval` is wall-clock time.
    `neutral`: the session's pinned neutral faces (emotui.live.neutral), each set one kept in its settings.
    """
    if interval < 0 or (duration is not None and duration <= 0) or (frames is not None and frames <= 0):
        raise UsageError("interval must be >= 0, duration and frames > 0")
    if max_faces < 1:
        raise UsageError("max faces must be at least 1")
    class_order(predictor)
    EmaSmoother(smooth)  # bad settings fail before anything opens
    stop = stop or threading.Event()
    from ..data.landmarker import Landmarker

    with contextlib.ExitStack() as resources:
        log = store if store is not None else resources.enter_context(LogStore())
        if isinstance(source, FrameSource):
            src = source
        else:
            src = resources.enter_context(open_source(source, backend=backend, resolution=resolution))
        detector = resources.enter_context(
            Landmarker(landmarker, video=not src.independent_frames, max_faces=max_faces,
                       mirror_view="detect" if interval >= MIRROR_VIEW_FROM else "derive"))
        # The classifier runs in its own thread so that it can overlap the next frame's landmarks (see _Watch.run).
        classifier = resources.enter_context(
            ThreadPoolExecutor(1, thread_name_prefix="emotui-classify", initializer=one_torch_thread))
        settings = dict(interval=interval, max_faces=max_faces, smooth=smooth, duration=duration, frames=frames,
                        fast=fast, uncertain_below=uncertain_below, backend=backend,
                        save_frames=str(save_frames) if save_frames else None,
                        resolution=list(resolution) if resolution else None, landmarker=str(detector.model_path),
                        mirror_view=detector.mirror_mode, prior=getattr(predictor, "prior", "data"),
                        neutral_image=neutral.given.origin if neutral is not None and neutral.given else None)
        session = log.start_session(source=src.spec, model_id=getattr(predictor, "model_id", None),
                                    model_checksum=getattr(predictor, "checksum", None), settings=settings)
        fast = fast and not src.live  # a camera cannot be read faster than it delivers
        capture = _Capture(src, lossless=fast, paced=not fast and not src.live,
                           reconnect_timeout=reconnect_timeout, backoff=backoff)
        watch = _Watch(src, detector, classifier, log, session, predictor, on_event, max_faces=max_faces, smooth=smooth,
                       uncertain_below=uncertain_below, save_frames=save_frames, neutral=neutral)
        return watch.run(capture, stop, interval=interval, duration=duration, frames=frames, fast=fast)


class _Watch:
    """One session: the capture thread's frames through the analysis to the recorder, all in this thread except
    the classifier's work."""

    def __init__(self, src, detector, classifier, log, session, predictor, on_event, *, max_faces, smooth,
                 uncertain_below, save_frames, neutral=None) -> None:
        self.src = src
        self.analysis = FaceAnalysis(detector, classifier, predictor, independent_frames=src.independent_frames,
                                     max_faces=max_faces, smooth=smooth, uncertain_below=uncertain_below,
                                     neutral=neutral)
        self.neutral, self.neutrals_set = neutral, []
        self.recorder = SessionRecorder(src, log, session, on_event, save_frames=save_frames)
        self.summary = self.recorder.summary

    def run(self, capture: _Capture, stop: threading.Event, *, interval, duration, frames, fast) -> MonitorSummary:
        """Frame N's classifier (in the classifier thread) overlaps frame N+1's landmarks (in this one); frame N is
        then finished here, so the log, tracks and events stay in one thread and in frame order. Only a file read
        --fast with --interval 0 overlaps: there the next frame is already waiting. With an interval or in real
        time, holding a frame back for the next one would add latency, so each frame is finished at once."""
        summary, pacer = self.summary, _FramePacer(interval, fast)
        overlap = fast and interval == 0
        pending: Pending | None = None  # detected, its classifier running, not yet logged
        started = time.monotonic()
        error: BaseException | None = None
        self.recorder.on_event(SourceState("open", self.src.describe()))
        capture.start()
        try:
            while not (reason := self._limit(stop, started, duration, frames, pending)):
                if pending is not None and not capture.notices.empty():
                    pending = self.finish(pending)  # log the frame before a gap or failure reported after it
                self.recorder.report(capture.notices)
                wait = pacer.wait()
                if wait > 0:  # watching live: sleep until due
                    stop.wait(min(wait, 0.1))
                    continue
                item = capture.handoff.take(0.1 if pending is None else 0.0)
                if item is None or item is _END:
                    pending = self.finish(pending)  # no next frame waiting: nothing to overlap, don't hold it back
                if item is None:
                    continue
                if item is _END:
                    if capture.notices.empty():  # report the capture thread's last notices first
                        reason = summary.reason or "source ended"
                        break
                    continue
                if not pacer.due(item):
                    continue
                current = self.detect(item)
                self.finish(pending)
                pending = current if overlap else self.finish(current)
            summary.reason = reason
            # A stop drops the frame in hand, like one never read; the other ends log it.
            if summary.reason == "stopped":
                pending = self.analysis.discard(pending)
            pending = self.finish(pending)
        except KeyboardInterrupt:
            summary.reason = "interrupted"
            raise
        except BaseException as exc:
            error = exc
            summary.reason = f"error: {exc}"
            raise
        finally:
            self.analysis.discard(pending)
            capture.halt.set()
            capture.join(timeout=5.0)
            self.recorder.summarise(frames_read=capture.frames_read, seconds=time.monotonic() - started,
                                    skipped=pacer.skipped + capture.handoff.overwritten)
            self.recorder.close_session(clean=error is None,
                                        failing=error is not None or summary.reason == "interrupted")
        self.recorder.announce_end()
        return summary

    def _limit(self, stop: threading.Event, started: float, duration, frames, pending: Pending | None) -> str:
        """Why the session ends now, or "" to go on: a stop, its duration passed, its frames analysed (counting
        the one in hand)."""
        if stop.is_set():
            return "stopped"
        if duration is not None and time.monotonic() - started >= duration:
            return "duration"
        if frames is not None and self.summary.frames_analysed + (pending is not None) >= frames:
            return "frames"
        return ""

    def detect(self, frame) -> Pending:
        """Landmarks here; the classifier starts in its thread. A method of the loop so that tests can watch the
        order of detections, takes and log writes."""
        return self.analysis.detect(frame)

    def finish(self, pending: Pending | None) -> None:
        """Tracks, smoothing; then one log transaction and the events. Returns None (nothing pending)."""
        if pending is not None:
            self.recorder.record(pending.frame, *self.analysis.conclude(pending))
            record_neutrals(self.recorder.log, self.recorder.session, self.neutral, self.neutrals_set)
        return None
