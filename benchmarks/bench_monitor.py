"""Monitor speed and memory, as ratios against baselines measured in the same run (the machine is shared).

    python benchmarks/bench_monitor.py [--video PATH] [--rounds 5] [--minutes 10] [--skip-memory]

1. throughput: frames/s of the whole pipeline (run_monitor --interval 0 --fast: decode, landmarks, classify,
   track, smooth, log to SQLite) / frames/s of a bare decode + FaceLandmarker loop over the same frames.
   Target >= 0.85.
2. classifier + log write per frame (ms). Target <= 3 ms.
3. resident memory after --minutes of continuous watching (the video looped) / after a tenth of that.
   Target <= 1.10.
The classifier is emotui.learn.predictor.Predictor (the default model) when this build has it, otherwise the test
stand-in (tests/standin_predictor.py); the script says which.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("GLOG_minloglevel", "2")
if not (REPO / "models" / "face_landmarker.task").exists():
    os.environ.setdefault("EMOTUI_LANDMARKER", str(REPO.parent / "shared" / "models" / "face_landmarker.task"))

from emotui.live.camera import FrameSource, open_source  # noqa: E402
from emotui.errors import EmotuiError  # noqa: E402
from emotui.events import Prediction  # noqa: E402
from emotui.data.landmarker import Landmarker  # noqa: E402
from emotui.live.logstore import LogStore  # noqa: E402
from emotui.live.monitor import run_monitor  # noqa: E402

DEFAULT_VIDEO = REPO.parent / "shared" / "media" / "WolfgangLanger_Pexels.mp4"


def load_classifier(model: Path | None = None):  # noqa: ANN201
    try:
        from emotui.learn.predictor import Predictor

        loaded = Predictor.load(model)
        size = loaded.config.get("training", {}).get("config", {}).get("model_size", "?")
        return loaded, f"emotui.learn.predictor.Predictor ({model or 'default model'}: {size}, {loaded.model_id})"
    except (ImportError, EmotuiError) as exc:
        from tests.standin_predictor import load_test_predictor

        return load_test_predictor(), f"STAND-IN linear classifier (no trained Predictor here: {exc})"


def bare_loop(video: Path) -> float:
    """Decode + FaceLandmarker in VIDEO mode, nothing else: frames per second (one pass a frame, as the monitor at
    --interval 0 makes)."""
    import cv2

    with Landmarker(video=True, max_faces=1, mirror_view=False) as detector:
        cap = cv2.VideoCapture(str(video))
        count, start = 0, time.perf_counter()
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), int(cap.get(cv2.CAP_PROP_POS_MSEC)))
            count += 1
        elapsed = time.perf_counter() - start
        cap.release()
    return count / elapsed


def classifier_alone(video: Path, classifier, frames: int = 200, views: str | bool = False) -> float:  # noqa: ANN001
    """CPU ms per face of the classifier on its own (one torch thread, nothing beside it): the faces of the
    video's first frames, each with its track's running reference and mirror averaging, as the monitor does;
    `views`: each with its mirror view too, detected again in the mirrored image as the monitor does from 1 s
    intervals (MIRROR_VIEW_FROM, True or "detect"), or derived from the one detection as it does faster ("derive")."""
    import cv2
    import torch

    from emotui.data.features import ReferenceTracker, face_inputs

    torch.set_num_threads(1)
    faces = []
    with Landmarker(video=True, max_faces=1, mirror_view=views) as detector:
        cap = cv2.VideoCapture(str(video))
        while len(faces) < frames:
            ok, bgr = cap.read()
            if not ok:
                break
            faces += detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), int(cap.get(cv2.CAP_PROP_POS_MSEC)))[:1]
        cap.release()
    refs, started = ReferenceTracker(), time.thread_time()
    for face in faces:
        points, blend, seen = face_inputs([face])
        classifier.predict_arrays(points, blend, *refs.references([0], points, blend),
                                  **({"views": seen} if views else {}))
    return (time.thread_time() - started) * 1000.0 / max(len(faces), 1)


class LoopingVideo(FrameSource):
    """A video file played over and over, its timestamps carrying on, to stand in for hours of camera."""

    kind = "file"

    def __init__(self, video: Path) -> None:
        super().__init__(str(video))
        self.video = video
        self._inner = open_source(video)
        self.fps = self._inner.fps
        self._offset = self._index_offset = 0.0
        self._last = None

    def read(self):
        frame = self._inner.read()
        if frame is None:
            self._inner.close()
            self._inner = open_source(self.video)
            self._offset = self._last.timestamp_ms + 1000.0 / (self.fps or 25)
            self._index_offset = self._last.index + 1
            frame = self._inner.read()
        frame.timestamp_ms += self._offset
        frame.index += int(self._index_offset)
        self._last = frame
        return frame

    def close(self) -> None:
        self._inner.close()


def pipeline(video: Path, classifier, db: Path) -> tuple[float, float, float]:
    """run_monitor --interval 0 --fast: (frames/s, classify ms, log ms) per frame."""
    with LogStore(db) as store:
        summary = run_monitor(video, predictor=classifier, store=store, interval=0, fast=True)
    per_face = summary.frames_analysed / max(summary.faces, 1)
    return (summary.fps, summary.latency_ms["classify"] * per_face, summary.latency_ms["classify_cpu"] * per_face,
            summary.log_ms)


def memory(video: Path, classifier, db: Path, minutes: float) -> tuple[float, float, int]:
    import psutil

    process = psutil.Process()
    seconds = minutes * 60.0
    early: list[float] = []
    start = time.monotonic()

    def sample(event) -> None:
        if isinstance(event, Prediction) and not early and time.monotonic() - start >= seconds / 10:
            early.append(process.memory_info().rss)

    with LogStore(db) as store:
        summary = run_monitor(LoopingVideo(video), predictor=classifier, store=store, interval=0, fast=True,
                              duration=seconds, on_event=sample)
    late = process.memory_info().rss
    return early[0], late, summary.frames_analysed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the memory run (default 10)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped model)")
    parser.add_argument("--compare", type=Path, action="append", default=[],
                        help="another model directory: its classifier time per face beside this one's (repeatable)")
    args = parser.parse_args()
    classifier, which = load_classifier(args.model)
    print(f"video: {args.video.name}; classifier: {which}")
    with tempfile.TemporaryDirectory() as tmp:
        bare, full, classify, classify_cpu, log = [], [], [], [], []
        for i in range(args.rounds):  # alternate, so load from other processes hits both alike
            bare.append(bare_loop(args.video))
            fps, c_ms, c_cpu, l_ms = pipeline(args.video, classifier, Path(tmp) / f"bench{i}.db")
            full.append(fps)
            classify.append(c_ms)
            classify_cpu.append(c_cpu)
            log.append(l_ms)
        b, f = statistics.median(bare), statistics.median(full)
        print(f"throughput: pipeline {f:.1f} frames/s / bare decode+landmarks {b:.1f} frames/s = {f / b:.2f} "
              f"(target >= 0.85; rounds {', '.join(f'{x / y:.2f}' for x, y in zip(full, bare))})")
        c, lg = statistics.median(classify), statistics.median(log)
        alone, with_views, derived = (classifier_alone(args.video, classifier, views=v)
                                      if hasattr(classifier, "predict_arrays") else float("nan")
                                      for v in (False, True, "derive"))
        print(f"classifier per face on its own: {alone:.2f} ms CPU; with its mirror view batched in (intervals from "
              f"1 s) {with_views:.2f} ms (target <= 2 ms); with a derived mirror view (shorter intervals) "
              f"{derived:.2f} ms")
        for other in args.compare:  # measured here, in the same run, so machine load hits both alike
            other_classifier, other_which = load_classifier(other)
            other_ms = classifier_alone(args.video, other_classifier, views=True)
            print(f"  compared: {other_which}: {other_ms:.2f} ms with its mirror view; this model / that one = "
                  f"{with_views / other_ms:.2f}")
        print(f"classifier per face in the monitor (mirror averaging and person reference included): CPU "
              f"{statistics.median(classify_cpu):.2f} ms, wall {c:.2f} ms beside the next frame's "
              f"landmarks; log write {lg:.2f} ms per frame")
        if not args.skip_memory:
            early, late, frames = memory(args.video, classifier, Path(tmp) / "memory.db", args.minutes)
            print(f"memory: RSS after {args.minutes:g} min {late / 2**20:.1f} MiB / after {args.minutes / 10:g} min "
                  f"{early / 2**20:.1f} MiB = {late / early:.3f} (target <= 1.10; {frames} frames analysed)")


if __name__ == "__main__":
    main()
