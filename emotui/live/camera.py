"""Frame sources: a webcam index, a /dev/videoN device, a video file, a folder of images, an http/rtsp stream.

`open_source(spec)` returns a FrameSource whose `read()` gives the next Frame, None at the end, or raises
UnreadableFrame (skip it and go on) or SourceLost (a live source stopped delivering: retry with `reopen()`).
cv2 is imported lazily so `emotui --help` stays fast.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ImageReadError, SourceError

BACKENDS = ("auto", "v4l2", "dshow", "msmf", "avfoundation")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm"})
URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# Consecutive failed reads in a video file before it is treated as ended (a damaged tail).
MAX_BAD_FILE_FRAMES = 25
# Images in a folder are a slideshow at this rate unless read --fast.
FOLDER_FPS = 1.0


class UnreadableFrame(Exception):
    """One frame could not be decoded; the source goes on."""


class SourceLost(Exception):
    """A live source (camera, stream) stopped delivering frames."""


@dataclass(slots=True)
class Frame:
    rgb: np.ndarray  # (h, w, 3) uint8
    index: int  # position in the source: frame number, image number, frames read from a camera
    timestamp_ms: float  # source time: a file's own timestamps, ms since the source opened for live ones
    wall_time: float  # time.time() when it was read (the prediction's UTC time)
    read_ms: float  # time spent reading and decoding it
    name: str = ""  # the image's file name for folders


def _cv2():
    # OpenCV's and FFmpeg's own log lines (probing a missing camera, a refused connection) would break the
    # one-line error promise: every failure is reported by our own message instead.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    return cv2


def _api_preference(backend: str) -> int:
    cv2 = _cv2()
    table = {
        "auto": cv2.CAP_ANY,
        "v4l2": cv2.CAP_V4L2,
        "dshow": cv2.CAP_DSHOW,
        "msmf": cv2.CAP_MSMF,
        "avfoundation": cv2.CAP_AVFOUNDATION,
    }
    if backend not in table:
        raise SourceError(f"unknown camera backend {backend!r}: use one of {', '.join(BACKENDS)}")
    return table[backend]


def available_cameras(backend: str = "auto", probe: int = 5) -> list[int]:
    """Camera indices that exist: /dev/videoN on Linux, otherwise the first `probe` indices that open."""
    if sys.platform.startswith("linux"):
        found = (re.fullmatch(r"/dev/video(\d+)", p) for p in glob.glob("/dev/video*"))
        return sorted(int(m.group(1)) for m in found if m)
    cv2 = _cv2()
    api = _api_preference(backend)
    indices = []
    for i in range(probe):
        cap = cv2.VideoCapture(i, api)
        if cap.isOpened():
            indices.append(i)
        cap.release()
    return indices


class FrameSource:
    """Base of all sources. `live` sources are drained continuously and retried when lost."""

    kind = "source"
    live = False
    independent_frames = False  # frames are unrelated pictures: detect in IMAGE mode, not VIDEO mode

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.fps: float | None = None

    def read(self) -> Frame | None:
        raise NotImplementedError

    def reopen(self) -> None:
        raise SourceError(f"{self.spec} cannot be reopened")

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"{self.kind} {self.spec}"

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoCaptureSource(FrameSource):
    """Anything cv2.VideoCapture reads: cameras, devices, files, streams."""

    def __init__(
        self, spec: str, target: int | str, *, kind: str, backend: str = "auto",
        resolution: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(spec)
        self.kind = kind
        self.live = kind in ("camera", "device", "stream")
        self.target = target
        self.backend = backend
        self.resolution = resolution
        self._cap = None
        self._count = 0
        self._bad_run = 0
        self._delivered = 0  # frames decoded since the source opened
        self._opened_at = 0.0
        self._last_ts = -1.0
        self._offset = 0.0
        self._lock = threading.Lock()  # a read in the capture thread and close() in another never overlap
        self._open()

    def _open(self, *, explain: bool = True) -> None:
        cv2 = _cv2()
        api = _api_preference(self.backend)
        if self.kind == "stream" and self.backend == "auto":
            api = cv2.CAP_FFMPEG
        if self.live:
            # Bounded waits, so a dead stream or camera is noticed (and retried) instead of blocking forever.
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10000]
            cap = cv2.VideoCapture(self.target, api, params)
        else:
            cap = cv2.VideoCapture(self.target, api)
        if not cap.isOpened():
            cap.release()
            # Retries skip the explanation: probing other cameras is slow on some platforms.
            raise SourceError(self._open_failure() if explain else f"cannot reopen {self.spec}")
        if self.resolution and self.live:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.resolution[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.resolution[1])
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 0 < fps < 1000 else None
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT) if self.kind in ("file", "stream") else 0
        self.frame_count = int(count) if count and 0 < count < 1e9 else 0
        if self.kind == "stream" and self.frame_count:
            # A URL with a known length is a video file served over the network, not a live feed: its end is the
            # source's end (reopening it would only play it again from the start).
            self.live = False
        self._cap = cap
        self._opened_at = time.monotonic()

    def _open_failure(self) -> str:
        if self.kind == "camera":
            found = available_cameras(self.backend)
            names = ", ".join(map(str, found)) if found else "none"
            return f"camera {self.target} not found (camera indices available: {names})"
        if self.kind == "device":
            return f"cannot open camera device {self.spec}"
        if self.kind == "stream":
            return f"cannot open stream {self.spec}"
        return f"cannot open {self.spec} as a video (unsupported or damaged file)"

    def read(self) -> Frame | None:
        cv2 = _cv2()
        if self._cap is None:
            raise SourceLost(f"{self.spec} is closed")
        start = time.perf_counter()
        with self._lock:
            ok, bgr = self._cap.read()
        wall = time.time()
        index = self._count
        self._count += 1
        if not ok or bgr is None or bgr.size == 0:
            if self.live:
                raise SourceLost(f"{self.describe()} stopped delivering frames")
            if self.kind == "stream" and not self._delivered:
                raise SourceError(f"stream {self.spec} opened but gave no frame (a video file whose index is at its "
                                  "end needs a server that serves byte ranges)")
            self._bad_run += 1
            remaining = self.frame_count - index
            if remaining > 1 and self._bad_run < MAX_BAD_FILE_FRAMES:
                raise UnreadableFrame(f"frame {index} of {self.spec} cannot be decoded")
            return None
        self._bad_run = 0
        self._delivered += 1
        if not self.live:
            ts = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
            if ts <= self._last_ts:  # some containers repeat or omit timestamps
                ts = self._last_ts + (1000.0 / self.fps if self.fps else 1.0)
        else:
            ts = (time.monotonic() - self._opened_at) * 1000.0 + self._offset
        self._last_ts = ts
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return Frame(rgb, index, ts, wall, (time.perf_counter() - start) * 1000.0)

    def reopen(self) -> None:
        if not self.live:
            super().reopen()
        # Live timestamps carry on from where they were, so VIDEO mode detection stays monotonic.
        self._offset = max(self._last_ts, 0.0) + 1.0
        self.close()
        self._open(explain=False)

    def close(self) -> None:
        # A read stuck on a dead device must not hang the caller: then the capture is left to the process exit.
        if self._lock.acquire(timeout=2.0):
            try:
                if self._cap is not None:
                    self._cap.release()
                    self._cap = None
            finally:
                self._lock.release()


class ImageFolderSource(FrameSource):
    """The images of a folder (or one image), sorted by name: a slideshow at FOLDER_FPS unless read --fast."""

    kind = "folder"
    independent_frames = True

    def __init__(self, spec: str, paths: list[Path]) -> None:
        super().__init__(spec)
        self.paths = paths
        self.fps = FOLDER_FPS
        self._next = 0

    def read(self) -> Frame | None:
        from ..data.landmarker import read_image

        if self._next >= len(self.paths):
            return None
        index = self._next
        self._next += 1
        path = self.paths[index]
        start = time.perf_counter()
        try:
            rgb = read_image(path)
        except ImageReadError as exc:
            raise UnreadableFrame(str(exc)) from None
        read_ms = (time.perf_counter() - start) * 1000.0
        return Frame(rgb, index, index * 1000.0 / FOLDER_FPS, time.time(), read_ms, path.name)

    def describe(self) -> str:
        return f"folder {self.spec} ({len(self.paths)} images)"


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def parse_resolution(text: str | None) -> tuple[int, int] | None:
    """'1280x720' -> (1280, 720)."""
    if not text:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*[xX*]\s*(\d+)\s*", text)
    if not match:
        raise SourceError(f"resolution {text!r} is not WIDTHxHEIGHT, e.g. 1280x720")
    return int(match.group(1)), int(match.group(2))


def open_source(
    spec: str | int | os.PathLike, *, backend: str = "auto", resolution: tuple[int, int] | None = None
) -> FrameSource:
    """Open a camera index ("0"), a device ("/dev/video0"), a stream URL, a folder of images, an image or a video.

    Raises SourceError with a one-line message when it cannot be opened.
    """
    text = str(spec).strip()
    if backend not in BACKENDS:
        raise SourceError(f"unknown camera backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if re.fullmatch(r"\d+", text):
        return VideoCaptureSource(text, int(text), kind="camera", backend=backend, resolution=resolution)
    if URL_RE.match(text):
        return VideoCaptureSource(text, text, kind="stream", backend=backend, resolution=resolution)
    path = Path(text).expanduser()
    if text.startswith("/dev/video"):
        if not path.exists():
            _missing_device(text, backend)
        return VideoCaptureSource(text, text, kind="device", backend=backend, resolution=resolution)
    if path.is_dir():
        images = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                        key=_natural_key)
        if not images:
            raise SourceError(f"no images in folder {path} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        return ImageFolderSource(text, images)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return ImageFolderSource(text, [path])
        return VideoCaptureSource(text, str(path), kind="file", backend="auto")
    raise SourceError(f"no such file, folder, camera or stream: {text}")


def _missing_device(text: str, backend: str) -> None:
    found = available_cameras(backend)
    names = ", ".join(f"/dev/video{i}" for i in found) if found else "none"
    raise SourceError(f"camera device {text} not found (devices available: {names})")
