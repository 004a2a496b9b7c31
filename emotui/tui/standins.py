"""STAND-INS, not the product: job functions that emit the real event dataclasses from emotui.events with
made-up, deterministic values. They let the dashboard's tests, SVG snapshots and benchmark drive every pane
without MediaPipe, torch or a camera. `emotui` itself never uses them; the end-to-end tests use the real core.
"""

from __future__ import annotations

import csv
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import config
from ..events import EpochMetrics, Finished, ItemFailed, Prediction, Progress, SourceState
from ..labels import CLASSES
from ..learn.model_catalog import Measured, ModelEntry
from .jobs import DatasetInfo, Jobs

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
STANDIN_SESSION = "standin-0001"


def synthetic_landmarks(shift: float = 0.0) -> np.ndarray:
    """478 points shaped like a face outline, eyes, nose and mouth, in normalised image coordinates."""
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    outline = np.c_[0.5 + 0.18 * np.cos(t), 0.5 + 0.25 * np.sin(t)]
    e = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    left = np.c_[0.43 + 0.04 * np.cos(e), 0.43 + 0.015 * np.sin(e)]
    right = np.c_[0.57 + 0.04 * np.cos(e), 0.43 + 0.015 * np.sin(e)]
    m = np.linspace(0, 2 * np.pi, 100, endpoint=False)
    mouth = np.c_[0.5 + 0.07 * np.cos(m), 0.62 + (0.02 + shift) * np.sin(m)]
    nose = np.c_[np.full(58, 0.5), np.linspace(0.45, 0.55, 58)]
    points = np.vstack([outline, left, right, mouth, nose])
    return np.c_[points, np.zeros(len(points))].astype(np.float32)


_BLOCK = bytes(1 << 20)


def _burn(seconds: float, hold_gil: bool) -> None:
    """Keep a core busy like a job would: in native code that lets the GIL go (MediaPipe, torch, OpenCV do), or,
    with `hold_gil`, in pure Python, the worst case for the UI thread."""
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        if hold_gil:
            x += 1
        else:
            hashlib.sha256(_BLOCK).digest()  # hashlib releases the GIL on large buffers


@dataclass
class StandIns:
    """Knobs: `delay` between items, `burn` CPU seconds per item (`hold_gil`: in pure Python), `frames` the
    monitor emits (None = until stopped), and the images the extraction pretends to do when the dataset has none."""

    delay: float = 0.0
    burn: float = 0.0
    hold_gil: bool = False
    frames: int | None = 12
    images: int = 40
    emitted: list[Prediction] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _pause(self, stop: threading.Event) -> bool:
        if self.burn:
            _burn(self.burn, self.hold_gil)
        if self.delay:
            stop.wait(self.delay)
        return stop.is_set()

    def _items(self, dataset: Path) -> list[str]:
        files = sorted(p for p in Path(dataset).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if Path(
            dataset).is_dir() else []
        return [str(p) for p in files] or [f"{dataset}/img{i:03d}.jpg" for i in range(self.images)]

    def discover(self, dataset: Path) -> DatasetInfo:
        items = self._items(dataset)
        counts = {label: 0 for label in CLASSES}
        for i, _ in enumerate(items):
            counts[CLASSES[i % len(CLASSES)]] += 1
        return DatasetInfo("stand-in", len(items), counts, n_subjects=max(1, len(items) // 6))

    def features_for(self, dataset: Path) -> Path | None:
        return None

    def extract(self, dataset: Path, *, on_event, stop) -> Path:  # noqa: ANN001
        items = self._items(dataset)
        counts = {"ok": 0, "no_face": 0, "unreadable": 0, "error": 0}
        for done, path in enumerate(items, 1):
            if self._pause(stop):
                break
            status = "no_face" if done % 9 == 0 else "unreadable" if done == 5 else "ok"
            counts[status] += 1
            if status != "ok":
                on_event(ItemFailed("extract", path, status, "no face found" if status == "no_face"
                                    else "cannot decode image"))
            rate = 25.0
            on_event(Progress("extract", done, len(items), rate, (len(items) - done) / rate, dict(counts)))
        on_event(Finished("extract", {"counts": dict(counts)}, cancelled=stop.is_set()))
        return Path(dataset) / "standin-features.parquet"

    def train(self, features: list[Path], out: Path, *, epochs: int, batch_size: int, lr: float,
              model_size: str, val_fraction: float, on_event, stop, on_warning=None) -> Path:  # noqa: ANN001
        for epoch in range(1, epochs + 1):
            if self._pause(stop):
                break
            f = epoch / epochs
            on_event(EpochMetrics(epoch, epochs, 2.0 - 1.2 * f, 0.3 + 0.5 * f, 2.1 - 1.0 * f, 0.28 + 0.45 * f,
                                  0.25 + 0.4 * f, lr * (1 - 0.5 * f), 1.5, best=True))
        n = len(CLASSES)
        matrix = [[8 if i == j else (1 if (i + 1) % n == j else 0) for j in range(n)] for i in range(n)]
        per_class = {c: {"precision": 0.8, "recall": 0.89, "f1": 0.84, "support": 9} for c in CLASSES}
        summary = {"accuracy": 0.78, "macro_f1": 0.74, "per_class": per_class, "confusion_matrix": matrix,
                   "classes": list(CLASSES), "measured_on": {"part": "test", "faces": 72, "persons": 9}}
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps({"standin": True, "classes": list(CLASSES)}))
        on_event(Finished("train", summary, cancelled=stop.is_set()))
        return out

    def watch(self, source: str, *, model_dir: Path | None, interval: float, on_event, stop) -> dict:  # noqa: ANN001
        on_event(SourceState("open", f"stand-in source {source}"))
        frame = 0
        while self.frames is None or frame < self.frames:
            if frame and self._pause(stop):
                break
            if stop.is_set():
                break
            raw = np.roll(np.array([0.02, 0.02, 0.03, 0.05, 0.6, 0.2, 0.05, 0.03]), frame // 4)
            seconds = frame * max(interval, 0.5)
            stamp = f"2026-01-01T00:{int(seconds // 60):02d}:{seconds % 60:06.3f}Z"
            for track in (1, 2) if frame % 3 == 0 else (1,):
                probs = {c: float(p) for c, p in zip(CLASSES, raw if track == 1 else raw[::-1])}
                label = max(probs, key=probs.get)
                prediction = Prediction(stamp, STANDIN_SESSION, frame, track, label, probs[label], probs, probs,
                                        (100.0 * track, 80.0, 100.0 * track + 120, 230.0),
                                        {"capture": 2.0, "landmarks": 21.0, "classify": 1.0, "total": 24.0},
                                        landmarks=synthetic_landmarks(0.01 * (frame % 3)))
                with self.lock:
                    self.emitted.append(prediction)
                on_event(prediction)
            frame += 1
        on_event(SourceState("ended", "stand-in source ended"))
        on_event(Finished("watch", {"frames": frame, "session": STANDIN_SESSION}, cancelled=stop.is_set()))
        return {"frames": frame, "session": STANDIN_SESSION}

    def export(self, session: str, fmt: str, out: Path) -> Path:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            rows = [p for p in self.emitted if p.session == session]
        with out.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["time", "session", "frame", "track", "label", "confidence", *CLASSES])
            for p in rows:
                writer.writerow([p.time, p.session, p.frame, p.track, p.label, f"{p.confidence:.4f}",
                                 *(f"{p.probabilities[c]:.4f}" for c in CLASSES)])
        return out

    def sessions(self) -> list:
        """Three logged sessions with fixed figures, oldest first, like LogStore.sessions()."""
        from ..live.logstore import SessionInfo

        def info(n: int, started: str, ended: str | None, clean: bool | None, reason: str, source: str,
                 frames: int) -> SessionInfo:
            return SessionInfo(f"20260101-{n:06d}-ab{n // 10000:02d}", started, ended, source, "default-3f2a9c1e", None, {},
                               clean, reason, frames, frames + frames // 3, 0)

        return [info(90000, "2026-01-01T09:00:00.000000Z", "2026-01-01T09:12:05.000000Z", True, "source ended",
                     "/home/me/videos/interview.mp4", 145),
                info(101500, "2026-01-01T10:15:00.000000Z", "2026-01-01T10:15:42.000000Z", False,
                     "process ended without closing the session", "0", 42),
                info(113000, "2026-01-01T11:30:00.000000Z", "2026-01-01T12:31:00.000000Z", True, "stopped",
                     "rtsp://camera.local/stream", 732)]

    def session_overview(self, session: str):  # noqa: ANN201
        from ..live.logstore import SessionOverview

        info = next(i for i in self.sessions() if i.id == session)
        frames = [float(f) for f in range(0, info.frames, max(1, info.frames // 60))]
        series = {c: [] for c in CLASSES}
        for f in frames:
            raw = np.roll(np.array([0.02, 0.02, 0.03, 0.05, 0.6, 0.2, 0.05, 0.03]), int(f) // 25)
            for c, p in zip(CLASSES, raw):
                series[c].append(float(p))
        counts = {c: (i * 7 + info.frames) % 23 for i, c in enumerate(CLASSES)}
        return SessionOverview(info, frames, series, counts)

    def models(self, also: list[Path | None]) -> list[ModelEntry]:
        """A fixed shelf: the default, an earlier run, a run stopped early and one that diverged; with the stand-in
        training's model once it has been written."""
        home = Path("/home/me/emotui")
        shelf = [STANDIN_DEFAULT,
                 _entry(home / "data/models/tui-20260105-093000", 0.812, 0.701, "test", 3036, 3036, STANDIN_DEFAULT,
                        data=(("ckplus48", 1556), ("ferplus", 27320)), created="2026-01-05T09:30:00+00:00"),
                 _entry(home / "data/models/tui-20260103-180000", 0.447, 0.301, "test", 6, 1, None,
                        data=(("kaggle-layout-sample", 49),), created="2026-01-03T18:00:00+00:00", epochs=2,
                        complete=False),
                 ModelEntry(home / "data/models/tui-20260102-120000", "tui-20260102-120000",
                            created="2026-01-02T12:00:00+00:00", problem="model.safetensors holds non-finite values "
                            "(in head.weight): the training that wrote it diverged")]
        standin = config.data_dir() / "models" / "standin-model"
        if (standin / "config.json").is_file():
            shelf.insert(1, self.describe_model(standin))
        return shelf

    def describe_model(self, path: Path | None) -> ModelEntry:
        if path is None or path == STANDIN_DEFAULT.path:
            return STANDIN_DEFAULT
        if Path(path).name != "standin-model":
            return next((e for e in self.models([]) if e.path == Path(path)), ModelEntry(Path(path), Path(path).name))
        return _entry(Path(path), 0.78, 0.74, "test", 72, 9, None, data=(("sample", 43),),
                      created="2026-01-06T10:00:00+00:00", epochs=3)

    def jobs(self) -> Jobs:
        return Jobs(discover=self.discover, features_for=self.features_for, extract=self.extract,
                    train=self.train, watch=self.watch, export=self.export,
                    model_sizes=lambda: ("small", "base"), name="stand-in", sessions=self.sessions,
                    session_overview=self.session_overview,
                    new_model_dir=lambda: config.data_dir() / "models" / "standin-model",
                    models=self.models, describe_model=self.describe_model,
                    neutral_pins=lambda: None)  # its faces have no landmarks to pin


def _entry(path: Path, accuracy: float, macro_f1: float, part: str, faces: int, persons: int,
           same_as: ModelEntry | None, **kwargs) -> ModelEntry:  # noqa: ANN003
    """A made-up model; `same_as`: measured on the same faces as that one."""
    key = same_as.measured.key if same_as and same_as.measured else (part, path.name)
    return ModelEntry(path, path.name, accuracy=accuracy, macro_f1=macro_f1,
                      measured=Measured(part, faces, persons, key=key), model_id=f"{path.name}-0123abcd", **kwargs)


STANDIN_DEFAULT = ModelEntry(Path("/home/me/emotui/models/default"), "default", default=True,
                             model_id="default-9903a046", created="2026-01-01T23:10:26+00:00", accuracy=0.763,
                             macro_f1=0.548, measured=Measured("test", 3036, 3036, ("ferplus",), ("test", "default")),
                             data=(("ckplus48", 1556), ("muxspace-fe", 3681), ("ferplus", 27320)), epochs=16)
