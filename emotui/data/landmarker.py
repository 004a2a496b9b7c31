"""MediaPipe FaceLandmarker: locating its model file, reading images, and detecting faces.

mediapipe is imported lazily (inside functions) so that `emotui --help` stays fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import config
from ..errors import LandmarkerModelError
from . import mediapipe_import  # noqa: F401 - before any import of mediapipe: its drawing helpers stay lazy
from .face import BLENDSHAPE_NAMES, N_LANDMARKS, Face, face_bbox  # noqa: F401 - re-exported

LANDMARKER_FILENAME = "face_landmarker.task"
LANDMARKER_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"
)
LANDMARKER_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
# The landmarker works on a 192 px face crop; decoding huge photos at full size only costs time and memory.
MAX_DETECT_SIDE = 2048

ProgressFn = Callable[[int, int], None]  # (bytes done, bytes total or 0)


# ---------------------------------------------------------------- model file

def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_landmarker(path: Path) -> str:
    """Return the file's sha256, or raise when it is not the expected FaceLandmarker bundle."""
    if not path.is_file():
        raise LandmarkerModelError(f"landmarker model not found: {path}")
    checksum = sha256_of(path)
    if checksum != LANDMARKER_SHA256:
        size = path.stat().st_size
        raise LandmarkerModelError(
            f"{path} is not the expected face_landmarker.task (sha256 {checksum[:12]}..., {size} bytes; "
            f"expected {LANDMARKER_SHA256[:12]}...): delete it and run again to download it, or replace it"
        )
    return checksum


def download_landmarker(dest: Path, on_progress: ProgressFn | None = None, url: str | None = None) -> Path:
    """Download to a temporary file beside dest, verify it, then rename: a partial download is never used."""
    url = url or os.environ.get("EMOTUI_LANDMARKER_URL", LANDMARKER_URL)
    dest.parent.mkdir(parents=True, exist_ok=True)
    import urllib.error  # here: ~17 ms of every worker's start otherwise
    import urllib.request

    fd, tmp_name = tempfile.mkstemp(prefix=dest.name, suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while block := response.read(1 << 16):
                out.write(block)
                done += len(block)
                if on_progress:
                    on_progress(done, total)
        verify_landmarker(tmp)
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise LandmarkerModelError(
            f"cannot download the face landmarker model ({reason}); download {LANDMARKER_URL} "
            f"and put it at {dest}, or pass --landmarker PATH / set EMOTUI_LANDMARKER"
        ) from None
    except LandmarkerModelError:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def resolve_landmarker(
    explicit: str | Path | None = None, *, download: bool = True, on_progress: ProgressFn | None = None
) -> Path:
    """--landmarker PATH > $EMOTUI_LANDMARKER > <models dir>/face_landmarker.task > download into models dir."""
    chosen = explicit or os.environ.get("EMOTUI_LANDMARKER")
    if chosen:
        path = Path(chosen).expanduser()
        verify_landmarker(path)
        return path
    path = config.models_dir() / LANDMARKER_FILENAME
    if path.exists():
        verify_landmarker(path)
        return path
    if not download:
        raise LandmarkerModelError(
            f"no face landmarker model: put {LANDMARKER_FILENAME} at {path} (from {LANDMARKER_URL})"
        )
    return download_landmarker(path, on_progress)


# ---------------------------------------------------------------- images

def read_image(path: str | Path) -> np.ndarray:
    """Decode any image OpenCV reads (grey, RGBA, 16-bit, EXIF-rotated) into 8-bit RGB, within the pixel budget
    of emotui.data.images (a huge JPEG comes back reduced, any other huge image raises ImageTooLargeError)."""
    from .images import decode_image

    return decode_image(path)[0]


# ---------------------------------------------------------------- faces

@contextlib.contextmanager
def _native_stderr_silenced():
    """MediaPipe's C++ side logs a screenful of glog warnings to fd 2 whenever a task is created, which would
    bury the CLI's progress and scribble over a terminal UI. No environment variable turns them off in 1.x."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class Landmarker:
    """A FaceLandmarker in IMAGE or VIDEO mode. Create it in the thread or process that uses it.

    Faces come back largest first, at most max_faces. `refine_small` meshes each face small in the frame again on
    an enlarged crop (in IMAGE mode, by a second landmarker when the first runs in VIDEO mode); `search` looks
    again, in a bordered copy and in tiles of the frame, when a pass finds fewer faces than wanted (default: in
    IMAGE mode only, since a video's later frames are tracked and a search per frame would cost ~5 passes); with
    it, an image where no pass finds a face is tried again mirrored and turned (emotui.data.small_faces, .views).
    `mirror_view` (emotui.data.mirror.MIRROR_VIEWS): "derive" (default) mirrors the face's own detection, free;
    "detect" (or True) meshes the mirrored image too, a second, partly independent reading; "off" (or False): none
    (measured in models/default/NOTES.md). `appearance`: each face's Face.appearance, ~0.1 ms a face.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        video: bool = False,
        max_faces: int = 1,
        min_confidence: float = 0.5,
        refine_small: bool = True,
        search: bool | None = None,
        mirror_view: str | bool = "derive",
        appearance: bool = True,
    ) -> None:
        from .mirror import mirror_mode

        self.model_path = resolve_landmarker(model_path)
        self.video = video
        self.max_faces = max(1, int(max_faces))
        self.min_confidence = min_confidence
        self.refine_small = refine_small
        self.search = (not video) if search is None else bool(search)
        self.mirror_mode = mirror_mode(mirror_view)
        self.mirror_view = self.mirror_mode != "off"  # whether faces come with a view (the monitor logs it)
        self._twin = None  # each landmark's mirror twin, read from the model file for the first derived view
        self.appearance = appearance
        self._task = self._create(video)
        self._image_task = None if video else self._task  # IMAGE mode, for crops, tiles and bordered copies
        self._last_ts = -1

    def _create(self, video: bool):  # noqa: ANN202 - a ResultReader: mediapipe's FaceLandmarker, giving arrays
        from .mediapipe_result import ResultReader

        return ResultReader(_new_task(self.model_path, video, self.max_faces, self.min_confidence))

    def detect(self, rgb: np.ndarray, timestamp_ms: int | None = None, *, want: int | None = None) -> list[Face]:
        """Faces in an RGB uint8 image. VIDEO mode needs increasing timestamps; equal ones are nudged forward.

        `want` (default max_faces) is how many faces make a search for missed ones unnecessary: a caller that
        asks for more faces than it needs, to pick the largest, passes what it needs."""
        height, width = rgb.shape[:2]
        if self.video:
            ts = int(timestamp_ms if timestamp_ms is not None else self._last_ts + 1)
            ts = max(ts, self._last_ts + 1)
            self._last_ts = ts
            faces = self._find(rgb, lambda small: self._run(small, ts, (width, height)), want)
        else:
            faces = self._find(rgb, lambda small: self._run(small, None, (width, height)), want)
        if not faces and self.search:
            return self._rescue(rgb, want)
        return self._with_appearance(rgb, self._with_views(rgb, faces))

    def _with_appearance(self, rgb: np.ndarray, faces: list[Face]) -> list[Face]:
        """The faces with their appearance, read in `rgb`, the image their landmarks are normalised to."""
        if not self.appearance:
            return faces
        from .appearance import face_appearance

        return [dataclasses.replace(f, appearance=face_appearance(rgb, f.landmarks)) for f in faces]

    def _with_views(self, rgb: np.ndarray, faces: list[Face]) -> list[Face]:
        """The faces of `rgb` with their mirror views, in its mirror's coordinates: mirrored from each face's own
        detection ("derive", emotui.data.mirror) or detected again in the mirrored image ("detect")."""
        if self.mirror_mode == "off" or not faces:
            return faces
        if self.mirror_mode == "derive":
            from . import mirror

            if self._twin is None:
                self._twin = mirror.landmark_mirror_map(self.model_path)
            return mirror.with_derived_views(faces, rgb.shape[1], self._twin)
        from .views import with_views

        return with_views(rgb, faces, self._find_image)

    def _rescue(self, rgb: np.ndarray, want: int | None) -> list[Face]:
        """Faces of an image where every pass found none, from it mirrored and then turned (emotui.data.views)."""
        from .views import rescue

        return rescue(rgb, want, self._find_image, self._with_views, self._with_appearance)

    def _find_image(self, rgb: np.ndarray, want: int | None) -> list[Face]:
        """_find in IMAGE mode: what the mirrored and turned views of an image are searched with."""
        return self._find(rgb, self._image_pass(rgb), want)

    def _image_pass(self, rgb: np.ndarray) -> Callable[[np.ndarray], list[Face]]:
        """One IMAGE-mode pass over a shrunk copy of `rgb`, boxes in `rgb`'s pixels (what _find's first pass is)."""
        size = (rgb.shape[1], rgb.shape[0])
        return lambda small: self._run(small, None, size, self._image_task_())

    def _find(self, rgb: np.ndarray, first_pass, want: int | None) -> list[Face]:  # noqa: ANN001
        """The faces of one image, largest first: `first_pass` on the frame shrunk to the working size, then the
        search for missed faces and the small faces meshed again (emotui.data.small_faces)."""
        import cv2

        height, width = rgb.shape[:2]
        scale = MAX_DETECT_SIDE / max(height, width)
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        faces = first_pass(small)
        if not (self.search or self.refine_small):
            return sorted(faces, key=lambda f: f.area, reverse=True)[: self.max_faces]
        from . import small_faces

        if self.search and len(faces) < (want or self.max_faces):
            faces = small_faces.merge(faces, small_faces.search(self._run_image, small, width, height, not faces))
        if self.refine_small:
            refined = [small_faces.refine(self._run_image, rgb, f) if small_faces.is_small(f, width, height) else f
                       for f in faces]
            faces = small_faces.dedupe(refined)
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces[: self.max_faces]

    def _image_task_(self):  # noqa: ANN202
        if self._image_task is None:
            self._image_task = self._create(video=False)
        return self._image_task

    def _run_image(self, rgb: np.ndarray) -> list[Face]:
        return self._run(rgb, None, None, self._image_task_())

    def _run(self, rgb: np.ndarray, ts: int | None, size: tuple[int, int] | None, task=None) -> list[Face]:  # noqa: ANN001
        """One MediaPipe pass; bboxes in pixels of `size` (default: rgb's own)."""
        import mediapipe as mp

        width, height = size or (rgb.shape[1], rgb.shape[0])
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        return _faces_of(*(task or self._task)(image, ts), width, height)

    def close(self) -> None:
        for task in {id(t): t for t in (self._task, self._image_task) if t is not None}.values():
            task.close()
        self._task = self._image_task = None

    def __enter__(self) -> Landmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _new_task(model_path: Path, video: bool, max_faces: int, min_confidence: float):  # noqa: ANN202
    """A MediaPipe FaceLandmarker giving blendshapes and pose, created without its log flooding stderr."""
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)),
        running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
        num_faces=max_faces,
        min_face_detection_confidence=min_confidence,
        min_face_presence_confidence=min_confidence,
        min_tracking_confidence=min_confidence,
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
    )
    with _native_stderr_silenced():
        return vision.FaceLandmarker.create_from_options(options)


def _faces_of(landmarks: list, blendshapes: list, poses: list, width: int, height: int) -> list[Face]:
    """A result's arrays (emotui.data.mediapipe_result) as Faces, bboxes in pixels of a `width` x `height` image.
    A model that gives no or other blendshapes gets zeros, and no pose the identity, so every Face has the columns'
    shapes."""
    faces = []
    for i, points in enumerate(landmarks):
        shapes = blendshapes[i] if i < len(blendshapes) else None
        if shapes is None or shapes.shape != (len(BLENDSHAPE_NAMES),):
            shapes = np.zeros(len(BLENDSHAPE_NAMES), dtype=np.float32)
        transform = poses[i] if i < len(poses) else np.eye(4, dtype=np.float32)
        faces.append(Face(points, shapes, transform, face_bbox(points, width, height)))
    return faces
