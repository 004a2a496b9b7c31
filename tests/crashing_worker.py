"""A worker batch function that dies like a MediaPipe segfault on files named crash*: run in worker processes."""

import os
from pathlib import Path

from emotui.data.detection import detect_chunk


def detect_or_die(paths):  # noqa: ANN001, ANN201
    if any(Path(p).name.startswith("crash") for p in paths):
        os._exit(139)
    return detect_chunk(paths)


def failing_init(*args) -> None:  # noqa: ANN002
    """A pool initializer that fails the way a landmarker that cannot be created does."""
    raise RuntimeError("could not create the FaceLandmarker in this worker")
