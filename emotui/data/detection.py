"""One image in, one detection record out: the per-image work of extraction, run inside worker processes.

Kept apart from extraction.py (the orchestration) so a worker process imports only what it needs.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EmotuiError, ImageReadError
from .appearance import split_appearance
from .images import decode_image
from .landmarker import MAX_DETECT_SIDE, Landmarker

# The detector always looks for this many faces so that "the largest face" is the largest of several, not
# whichever face MediaPipe happens to return first; n_faces counts up to this number (or --max-faces if larger).
DETECT_FACES = 4


@dataclass(slots=True)
class Detected:
    """What one image gave: a status and up to max_faces faces, largest first (arrays flattened for Parquet)."""

    status: str  # emotui.data.schema.STATUSES
    error: str | None = None
    width: int = 0
    height: int = 0
    n_faces: int = 0
    # per face, emotui.data.schema.FACE_COLUMNS: landmarks, blendshapes, transform, bbox, then the mirror view's three
    # (None without one: a mirrored pass that missed the face, or --mirror-view off), then the appearance
    faces: list[tuple] = field(default_factory=list)


def decode_for_detection(path: str | Path) -> tuple[np.ndarray, int, int]:
    """RGB pixels for the landmarker plus the image's true (upright) width and height.

    Huge JPEGs are decoded at 1/2, 1/4 or 1/8 scale by libjpeg itself (never below the landmarker's working size),
    which saves both the decode time and the full-size buffers: an 8000x8000 photo would otherwise need ~400 MB.
    """
    return decode_image(path, min_side=MAX_DETECT_SIDE)


def detect_image(landmarker: Landmarker, path: str, max_faces: int = 1) -> Detected:
    """Never raises for a bad image: the failure becomes the record's status and message."""
    try:
        rgb, width, height = decode_for_detection(path)
    except ImageReadError as exc:
        return Detected("unreadable", str(exc))
    except MemoryError:
        return Detected("unreadable", f"image too large to decode: {path}")
    except Exception as exc:  # noqa: BLE001 - OpenCV raises cv2.error on some corrupt files
        return Detected("unreadable", f"cannot decode {path}: {_one_line(exc)}")
    try:
        faces = landmarker.detect(rgb, want=max_faces)  # it finds up to DETECT_FACES; a search only when short
    except Exception as exc:  # noqa: BLE001 - one bad image must not stop the batch
        return Detected("error", f"{type(exc).__name__}: {_one_line(exc)}", width, height)
    if not faces:
        return Detected("no_face", "no face found", width, height)
    # bbox is in the pixels of the decoded image, which may be a reduced copy.
    scale = np.float32(width / rgb.shape[1])
    kept = [
        (
            face.landmarks.reshape(-1),
            face.blendshapes,
            face.transform.reshape(-1),
            np.asarray(face.bbox, dtype=np.float32) * scale,
            *_view_arrays(face.mirror_view),
            *_appearance_columns(face.appearance),
        )
        for face in faces[:max_faces]
    ]
    return Detected("ok", None, width, height, len(faces), kept)


def _appearance_columns(appearance) -> tuple:  # noqa: ANN001 - np.ndarray | None
    """A face's appearance as the features file holds it: the HOG, and the crop's bytes."""
    return (None, None) if appearance is None else split_appearance(appearance)


def _view_arrays(view) -> tuple:  # noqa: ANN001 - emotui.data.landmarker.Face | None
    if view is None:
        return None, None, None
    return view.landmarks.reshape(-1), view.blendshapes, view.transform.reshape(-1)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


# ---------------------------------------------------------------- worker process side

_worker: tuple[Landmarker, int] | None = None
_start_error: str | None = None


class WorkerStartError(EmotuiError):
    """The extraction's worker processes could not start (raised by their first batch, in the parent)."""


def start_worker(initializer, *args) -> None:  # noqa: ANN001
    """Pool initializer: runs `initializer` and keeps its failure for the first batch to report. Raising here
    would make concurrent.futures print a traceback per worker and break the pool, leaving the parent to guess
    (it would see workers that "keep dying")."""
    global _start_error
    try:
        initializer(*args)
    except Exception as exc:  # noqa: BLE001 - reported, in one line, by run_batch
        _start_error = str(exc) if isinstance(exc, EmotuiError) else f"{type(exc).__name__}: {_one_line(exc)}"


def run_batch(task, paths: list[str]) -> list[Detected]:  # noqa: ANN001
    if _start_error is not None:
        raise WorkerStartError(f"extraction workers could not start: {_start_error}")
    return task(paths)


def new_landmarker(model_path: str, max_faces: int, mirror_view: str | bool = "derive") -> Landmarker:
    """The landmarker extraction detects with, in the calling thread, a pool worker or a Ray actor: enough faces
    to pick the largest, and each face's mirror view as `extract --mirror-view` says (emotui.data.mirror)."""
    return Landmarker(model_path, max_faces=max(max_faces, DETECT_FACES), mirror_view=mirror_view)


def init_worker(model_path: str, max_faces: int, owner: int, mirror_view: str | bool = "derive") -> None:
    """Process-pool initializer: one Landmarker per worker, Ctrl-C left to the parent, exit if orphaned.

    `owner` is the pid of the process running the job (with forkserver it is not the worker's parent).
    """
    # The parent turns Ctrl-C into a graceful stop and waits for the batches in flight; workers must not die.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_when_orphaned(owner)
    landmarker = new_landmarker(model_path, max_faces, mirror_view)
    from multiprocessing.util import Finalize

    Finalize(landmarker, landmarker.close, exitpriority=10)
    use_landmarker(landmarker, max_faces)


def use_landmarker(landmarker: Landmarker, max_faces: int) -> None:
    """The landmarker that detect_chunk uses in this process (a pool worker's, or a Ray actor's)."""
    global _worker
    _worker = (landmarker, max_faces)


def detect_chunk(paths: list[str]) -> list[Detected]:
    assert _worker is not None, "init_worker did not run"
    landmarker, max_faces = _worker
    return [detect_image(landmarker, path, max_faces) for path in paths]


def _exit_when_orphaned(owner: int) -> None:
    """A worker whose job was killed (kill -9) would wait on its queue forever: leave instead.

    Watching our parent is not enough: forkserver workers hold its "alive" pipe open, so after a kill -9 of the job
    the server and its workers would keep each other alive. A killed job not yet reaped is a zombie: gone too.
    """
    import psutil

    try:
        job = psutil.Process(owner)  # remembers the start time, so a recycled pid is not mistaken for the job
    except psutil.NoSuchProcess:
        os._exit(0)

    def watch() -> None:
        while True:
            try:
                if not job.is_running() or job.status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.Error:
                break
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()
