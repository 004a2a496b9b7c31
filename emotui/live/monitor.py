"""The live monitor: a capture thread keeps draining the source; the calling thread analyses a fresh frame every
`interval` seconds (0 = every frame), tracks faces, smooths probabilities, logs each frame and emits events.

run_monitor() is the one entry point, shared by `emotui watch` and the dashboard (which runs it in a thread worker).
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_bytes
from .camera import FrameSource, SourceLost, UnreadableFrame, open_source
from ..errors import CheckpointError, SourceError, UsageError, WriteError
from ..events import EventHandler, Finished, ItemFailed, Prediction, SourceState, ignore
from ..data.features import ReferenceTracker, face_inputs
from ..labels import CLASSES
from .logstore import LogError, LogStore, utc_iso
from .smoothing import EmaSmoother
from .tracking import Tracker

UNCERTAIN_BELOW = 0.4
# From this interval (s) on, each analysed frame is meshed a second time, mirrored (Landmarker.mirror_view): the
# pass costs ~20 ms, nothing against seconds of waiting, and gains ~1 point of accuracy; at real time it would halve
# the frame rate, and the smoother's average over frames does much of the same work there.
MIRROR_VIEW_FROM = 1.0
_END = object()


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


def _class_order(predictor: Any) -> np.ndarray:
    classes = tuple(getattr(predictor, "classes", ()))
    if sorted(classes) != sorted(CLASSES):
        raise CheckpointError(f"the model's classes {list(classes)} are not the 8 emotui classes {list(CLASSES)}")
    return np.array([classes.index(c) for c in CLASSES])


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
) -> MonitorSummary:
    """Watch `source` (a FrameSource or a spec for camera.open_source) until it ends, `duration` seconds (wall
    clock) pass, `frames` frames are analysed, or `stop` is set. One session in `store` (default: the log at
    config.log_db_path()). Emits SourceState, Prediction (one per face, or one no-face record, per analysed
    frame), ItemFailed for unreadable frames and Finished(stage="monitor").

    `fast`: files and folders are read as fast as possible and `interval` counts in the video's own time;
    otherwise files play at their real rate, like a camera, and `interval` is wall-clock time.
    """
    if interval < 0 or (duration is not None and duration <= 0) or (frames is not None and frames <= 0):
        raise UsageError("interval must be >= 0, duration and frames > 0")
    if max_faces < 1:
        raise UsageError("max faces must be at least 1")
    _class_order(predictor)
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
                       mirror_view=interval >= MIRROR_VIEW_FROM))
        # The classifier runs in its own thread so that it can overlap the next frame's landmarks (see _Watch.run).
        classifier = resources.enter_context(
            ThreadPoolExecutor(1, thread_name_prefix="emotui-classify", initializer=_one_torch_thread))
        settings = dict(interval=interval, max_faces=max_faces, smooth=smooth, duration=duration, frames=frames,
                        fast=fast, uncertain_below=uncertain_below, backend=backend,
                        save_frames=str(save_frames) if save_frames else None,
                        resolution=list(resolution) if resolution else None, landmarker=str(detector.model_path),
                        mirror_view=detector.mirror_view, prior=getattr(predictor, "prior", "data"))
        session = log.start_session(source=src.spec, model_id=getattr(predictor, "model_id", None),
                                    model_checksum=getattr(predictor, "checksum", None), settings=settings)
        fast = fast and not src.live  # a camera cannot be read faster than it delivers
        capture = _Capture(src, lossless=fast, paced=not fast and not src.live,
                           reconnect_timeout=reconnect_timeout, backoff=backoff)
        watch = _Watch(src, detector, classifier, log, session, predictor, on_event, max_faces=max_faces, smooth=smooth,
                       uncertain_below=uncertain_below, save_frames=save_frames)
        return watch.run(capture, stop, interval=interval, duration=duration, frames=frames, fast=fast)


def _one_torch_thread() -> None:
    """The classifier sees one or two faces a frame: torch's intra-op threads cannot help there, and on a busy
    machine their spinning made each call ~30x slower (94 ms against 2.7 ms on 2 loaded cores). OpenMP keeps the
    setting per thread, so this is done in the thread that classifies (the executor's initializer)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


class _Watch:
    """One session: turns the capture thread's frames and notices into log rows and events (in one thread)."""

    def __init__(self, src, detector, classifier, log, session, predictor, on_event, *, max_faces, smooth,
                 uncertain_below, save_frames) -> None:
        self.src, self.detector, self.classifier, self.log, self.session = src, detector, classifier, log, session
        self.predictor, self.order, self.on_event = predictor, _class_order(predictor), on_event
        self.uses_reference = getattr(predictor, "uses_reference", True)  # stand-ins may not say
        self.max_faces, self.uncertain_below = max_faces, uncertain_below
        self.smoother, self.tracker, self.references = EmaSmoother(smooth), Tracker(), ReferenceTracker()
        self.frames_dir = Path(save_frames) / session if save_frames else None
        if self.frames_dir:
            self.frames_dir.mkdir(parents=True, exist_ok=True)
        self.summary = MonitorSummary(session=session, source=src.spec, reason="", db=str(log.path))
        self.sums = dict.fromkeys(("capture", "landmarks", "classify", "classify_cpu", "total"), 0.0)
        self.log_total = 0.0
        self.open_gap: int | None = None

    def run(self, capture: _Capture, stop: threading.Event, *, interval, duration, frames, fast) -> MonitorSummary:
        """Frame N's classifier (in the classifier thread) overlaps frame N+1's landmarks (in this one); frame N is
        then finished here, so the log, tracks and events stay in one thread and in frame order. Only a file read
        --fast with --interval 0 overlaps: there the next frame is already waiting. With an interval or in real
        time, holding a frame back for the next one would add latency, so each frame is finished at once."""
        summary = self.summary
        overlap = fast and interval == 0
        pending: _Pending | None = None  # detected, its classifier running, not yet logged
        next_due: float | None = None
        started = time.monotonic()
        error: BaseException | None = None
        self.on_event(SourceState("open", self.src.describe()))
        capture.start()
        try:
            while True:
                if stop.is_set():
                    summary.reason = "stopped"
                    break
                if duration is not None and time.monotonic() - started >= duration:
                    summary.reason = "duration"
                    break
                if frames is not None and summary.frames_analysed + (pending is not None) >= frames:
                    summary.reason = "frames"
                    break
                if pending is not None and not capture.notices.empty():
                    pending = self.finish(pending)  # log the frame before a gap or failure reported after it
                self.report(capture.notices)
                if not fast and interval > 0 and next_due is not None:  # watching live: sleep until due
                    wait = next_due - time.time()
                    if wait > 0:
                        stop.wait(min(wait, 0.1))
                        continue
                item = capture.handoff.take(0.1 if pending is None else 0.0)
                if item is None or item is _END:
                    pending = self.finish(pending)  # no next frame waiting: nothing to overlap, don't hold it back
                if item is None:
                    continue
                if item is _END:
                    if capture.notices.empty():  # report the capture thread's last notices first
                        summary.reason = summary.reason or "source ended"
                        break
                    continue
                clock = item.timestamp_ms / 1000.0 if fast else item.wall_time
                if interval > 0:
                    if next_due is not None and clock < next_due:
                        summary.skipped += 1  # from before the due time: never analyse a stale frame
                        continue
                    next_due = clock + interval if next_due is None or next_due + interval <= clock \
                        else next_due + interval
                current = self.detect(item)
                self.finish(pending)
                pending = current if overlap else self.finish(current)
            # A stop drops the frame in hand, like one never read; the other ends log it.
            if summary.reason == "stopped":
                pending = self.discard(pending)
            pending = self.finish(pending)
        except KeyboardInterrupt:
            summary.reason = "interrupted"
            raise
        except BaseException as exc:
            error = exc
            summary.reason = f"error: {exc}"
            raise
        finally:
            self.discard(pending)
            capture.halt.set()
            capture.join(timeout=5.0)
            summary.frames_read = capture.frames_read
            summary.skipped += capture.handoff.overwritten
            summary.seconds = time.monotonic() - started
            n = max(summary.frames_analysed, 1)
            summary.latency_ms = {k: v / n for k, v in self.sums.items()}
            summary.log_ms = self.log_total / n
            self.close_session(clean=error is None, failing=error is not None or summary.reason == "interrupted")
        self.on_event(SourceState("ended", summary.reason))
        self.on_event(Finished("monitor", summary.as_dict(), cancelled=summary.reason == "stopped"))
        return summary

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

    def detect(self, frame) -> _Pending:
        """Landmarks here; the classifier starts in its thread."""
        t0 = time.perf_counter()
        timestamp = None if self.src.independent_frames else int(frame.timestamp_ms)
        faces = self.detector.detect(frame.rgb, timestamp)[: self.max_faces]
        t1 = time.perf_counter()
        # Tracks are known before classifying: each track's faces so far are its person reference.
        ids = self.tracker.update([f.bbox for f in faces])
        retired = list(self.tracker.retired)
        probs = self.classifier.submit(self._classify, faces, ids, retired) if faces or retired else None
        return _Pending(frame, faces, ids, retired, probs, t0, (t1 - t0) * 1000.0)

    def _classify(self, faces, ids, retired) -> tuple[np.ndarray, float, np.ndarray]:
        """In the classifier thread (which alone touches the references): probabilities in CLASSES order, the ms it
        took (its own, not the wait), and which faces had their track's reference."""
        t0, cpu0 = time.perf_counter(), time.thread_time()
        self.references.forget(retired)
        if not faces:
            return np.zeros((0, len(CLASSES))), (0.0, 0.0), np.zeros(0, dtype=bool)
        points, blend, views = face_inputs(faces)
        refs = self.references.references(ids, points, blend)
        probs = self.predictor.predict_arrays(points, blend, *refs, views=views)
        probs = np.asarray(probs, dtype=np.float64)[:, self.order]
        # The model computes in float32; logged probabilities promise to sum to 1 at double precision.
        probs /= probs.sum(axis=1, keepdims=True)
        # wall time and this thread's CPU time: while the next frame's landmarks run beside it on a small machine,
        # the wall time also counts the waits for a core, the CPU time only the classifier's own work
        return probs, ((time.perf_counter() - t0) * 1000.0, (time.thread_time() - cpu0) * 1000.0), refs[2]

    @staticmethod
    def discard(pending: _Pending | None) -> None:
        """Drop a detected frame; wait for its classifier so nothing runs once the session closes."""
        if pending is not None and pending.probs is not None and not pending.probs.cancel():
            pending.probs.exception()
        return None

    def finish(self, pending: _Pending | None) -> None:
        """Tracks, smoothing; then one log transaction and the events. Returns None (nothing pending)."""
        if pending is None:
            return None
        frame, faces, ids = pending.frame, pending.faces, pending.ids
        probs, (classify_ms, classify_cpu_ms), calibrated = (pending.probs.result() if pending.probs is not None
                                                             else (None, (0.0, 0.0), None))
        for gone in pending.retired:
            self.smoother.forget(gone)
        records = []
        for face, track, raw, known in zip(faces, ids, probs if faces else [], calibrated if faces else []):
            smoothed = self.smoother.update(track, raw)
            best = int(np.argmax(smoothed))
            records.append(dict(track=track, label=CLASSES[best], confidence=float(smoothed[best]),
                                probabilities=dict(zip(CLASSES, map(float, raw))),
                                smoothed=dict(zip(CLASSES, map(float, smoothed))),
                                bbox=tuple(float(v) for v in face.bbox),
                                uncertain=bool(smoothed[best] < self.uncertain_below), landmarks=face.landmarks,
                                calibrated=bool(known) if self.uses_reference else None))
        if not records:
            records.append(dict(track=None, label=None, confidence=0.0, probabilities={}, smoothed={}, bbox=None))
        t3 = time.perf_counter()
        # landmarks and classify are each step's own time; total is what the frame waited from its read to now,
        # so when overlapping it includes the next frame's landmarks.
        latency = {"capture": frame.read_ms, "landmarks": pending.landmarks_ms, "classify": classify_ms,
                   "classify_cpu": classify_cpu_ms, "total": frame.read_ms + (t3 - pending.started) * 1000.0}
        when = utc_iso(frame.wall_time)
        predictions = [Prediction(time=when, session=self.session, frame=frame.index, latency_ms=latency,
                                  source_ms=float(frame.timestamp_ms), **r) for r in records]
        self.log.log_frame(predictions)
        self.log_total += (time.perf_counter() - t3) * 1000.0
        if self.frames_dir is not None:
            _save_frame(self.frames_dir, frame)
        self.summary.frames_analysed += 1
        self.summary.faces += len(faces)
        self.summary.no_face_frames += not faces
        for key in self.sums:
            self.sums[key] += latency[key]
        for prediction in predictions:
            self.on_event(prediction)
        return None


@dataclass(slots=True)
class _Pending:
    """A frame whose landmarks are found and whose classifier runs (or ran) in the classifier thread."""
    frame: Any
    faces: list
    ids: list[int]  # track of each face
    retired: list[int]  # tracks that ended with this frame
    probs: Future | None  # -> (probabilities, classify ms, calibrated); None without a face or retired track
    started: float  # perf_counter when its analysis began
    landmarks_ms: float


def _save_frame(folder: Path, frame) -> None:
    """Encoded in memory and written by Python, whole or not at all: cv2.imwrite reports a full disk only as a
    False that is easy to miss, and may leave half a JPEG."""
    import cv2

    encoded, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))
    if not encoded:
        raise WriteError(f"cannot encode frame {frame.index} as JPEG for {folder}")
    atomic_write_bytes(folder / f"frame_{frame.index:06d}.jpg", jpeg.tobytes())
