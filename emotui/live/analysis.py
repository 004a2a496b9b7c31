"""The monitor's analysis of a frame: landmarks, then the classifier in its own thread, then tracks and smoothing,
ending in one record per face (the fields of a Prediction) and the frame's latencies."""

from __future__ import annotations

import sys
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.features import ReferenceTracker, face_inputs
from ..data.landmarker import resolve_landmarker
from ..data.mirror import landmark_mirror_map, with_derived_views
from ..errors import CheckpointError
from ..labels import CLASSES
from .neutral import NeutralPins
from .smoothing import EmaSmoother
from .tracking import Tracker


def class_order(predictor: Any) -> np.ndarray:
    """Where each of CLASSES is in the model's output, which may list them in another order."""
    classes = tuple(getattr(predictor, "classes", ()))
    if sorted(classes) != sorted(CLASSES):
        raise CheckpointError(f"the model's classes {list(classes)} are not the 8 emotui classes {list(CLASSES)}")
    return np.array([classes.index(c) for c in CLASSES])


def with_views(faces: list, width: int, detector: Any) -> list:
    """The faces, each the detector gave no mirror view (its mirrored pass missed the face, or it gives none) given
    the one derived from its own mesh (emotui.data.mirror), the code a default `extract` gives training faces theirs
    with: live faces reach the classifier with a view, as training faces did."""
    if all(face.mirror_view is not None for face in faces):
        return faces
    return with_derived_views(faces, width, landmark_mirror_map(getattr(detector, "model_path", None)
                                                                  or resolve_landmarker(download=False)))


def one_torch_thread() -> None:
    """The classifier sees one or two faces a frame: torch's intra-op threads cannot help there, and on a busy
    machine their spinning made each call ~30x slower (94 ms against 2.7 ms on 2 loaded cores). OpenMP keeps the
    setting per thread, so this is done in the thread that classifies (the executor's initializer)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


@dataclass(slots=True)
class Pending:
    """A frame whose landmarks are found and whose classifier runs (or ran) in the classifier thread."""
    frame: Any
    faces: list
    ids: list[int]  # track of each face
    retired: list[int]  # tracks that ended with this frame
    probs: Future | None  # -> (probabilities, classify ms, calibrated, neutral); None without a face or retired track
    started: float  # perf_counter when its analysis began
    landmarks_ms: float


class FaceAnalysis:
    """Frames to labelled faces. detect() and conclude() run in the watch thread, _classify() in the classifier's
    (`classifier`, a one-thread executor), which alone touches the person references."""

    def __init__(self, detector, classifier, predictor, *, independent_frames: bool, max_faces: int, smooth: float,
                 uncertain_below: float, neutral: NeutralPins | None = None) -> None:
        self.detector, self.classifier, self.predictor = detector, classifier, predictor
        self.neutral = neutral  # pinned neutral faces, which replace their tracks' running references
        self.order = class_order(predictor)
        self.uses_reference = getattr(predictor, "uses_reference", True)  # stand-ins may not say
        self.independent_frames, self.max_faces, self.uncertain_below = independent_frames, max_faces, uncertain_below
        self.smoother, self.tracker, self.references = EmaSmoother(smooth), Tracker(), ReferenceTracker()

    def detect(self, frame) -> Pending:
        """Landmarks here; the classifier starts in its thread."""
        t0 = time.perf_counter()
        timestamp = None if self.independent_frames else int(frame.timestamp_ms)
        faces = self.detector.detect(frame.rgb, timestamp)[: self.max_faces]
        faces = with_views(faces, frame.rgb.shape[1], self.detector)
        t1 = time.perf_counter()
        # Tracks are known before classifying: each track's faces so far are its person reference.
        ids = self.tracker.update([f.bbox for f in faces])
        retired = list(self.tracker.retired)
        probs = self.classifier.submit(self._classify, faces, ids, retired, frame.index) if faces or retired else None
        return Pending(frame, faces, ids, retired, probs, t0, (t1 - t0) * 1000.0)

    def _classify(self, faces, ids, retired, index=None) -> tuple:  # noqa: ANN001
        """In the classifier thread (which alone touches the references): probabilities in CLASSES order, the ms it
        took (its own, not the wait), which faces had a reference, and which of them a pinned neutral."""
        t0, cpu0 = time.perf_counter(), time.thread_time()
        self.references.forget(retired)
        if self.neutral is not None:
            self.neutral.forget(retired)
        if not faces:
            return np.zeros((0, len(CLASSES))), (0.0, 0.0), np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
        points, blend, views = face_inputs(faces)
        refs = self.references.references(ids, points, blend)
        neutral = (self.neutral.apply(index, ids, points, blend, refs) if self.neutral is not None
                   else np.zeros(len(ids), dtype=bool))
        probs = self.predictor.predict_arrays(points, blend, *refs, views=views)
        probs = np.asarray(probs, dtype=np.float64)[:, self.order]
        # The model computes in float32; logged probabilities promise to sum to 1 at double precision.
        probs /= probs.sum(axis=1, keepdims=True)
        # wall time and this thread's CPU time: while the next frame's landmarks run beside it on a small machine,
        # the wall time also counts the waits for a core, the CPU time only the classifier's own work
        return probs, ((time.perf_counter() - t0) * 1000.0, (time.thread_time() - cpu0) * 1000.0), refs[2], neutral

    @staticmethod
    def discard(pending: Pending | None) -> None:
        """Drop a detected frame; wait for its classifier so nothing runs once the session closes."""
        if pending is not None and pending.probs is not None and not pending.probs.cancel():
            pending.probs.exception()
        return None

    def conclude(self, pending: Pending) -> tuple[list[dict[str, Any]], dict[str, float]]:
        """Once the frame's classifier is done: tracks' smoothing and labels, as one record per face (one no-face
        record without a face), and the frame's latencies in ms."""
        frame, faces, ids = pending.frame, pending.faces, pending.ids
        probs, (classify_ms, classify_cpu_ms), calibrated, neutral = (
            pending.probs.result() if pending.probs is not None else (None, (0.0, 0.0), None, None))
        for gone in pending.retired:
            self.smoother.forget(gone)
        records = []
        for face, track, raw, known, pinned in zip(faces, ids, probs if faces else [], calibrated if faces else [],
                                                   neutral if faces else []):
            smoothed = self.smoother.update(track, raw)
            best = int(np.argmax(smoothed))
            records.append(dict(track=track, label=CLASSES[best], confidence=float(smoothed[best]),
                                probabilities=dict(zip(CLASSES, map(float, raw))),
                                smoothed=dict(zip(CLASSES, map(float, smoothed))),
                                bbox=tuple(float(v) for v in face.bbox),
                                uncertain=bool(smoothed[best] < self.uncertain_below), landmarks=face.landmarks,
                                calibrated=bool(known) if self.uses_reference else None,
                                neutral=bool(pinned) and self.uses_reference))
        if not records:
            records.append(dict(track=None, label=None, confidence=0.0, probabilities={}, smoothed={}, bbox=None))
        now = time.perf_counter()
        # landmarks and classify are each step's own time; total is what the frame waited from its read to now,
        # so when overlapping it includes the next frame's landmarks.
        latency = {"capture": frame.read_ms, "landmarks": pending.landmarks_ms, "classify": classify_ms,
                   "classify_cpu": classify_cpu_ms, "total": frame.read_ms + (now - pending.started) * 1000.0}
        return records, latency
