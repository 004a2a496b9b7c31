"""MediaPipe's FaceLandmarker result read straight into arrays.

FaceLandmarker.detect() turns the C result into 478 Python NormalizedLandmark objects per face and 52 Category
objects, and emotui then turned those back into arrays: ~0.9 ms of Python per face, ~8% of extracting a 350 px
image (benchmarks/bench_extract.py). Here the C call is made the same way detect() makes it and the result's
float fields are read with numpy views, then the result is released as detect() releases it.

That uses the task's private handle, so it is checked before it is trusted: the first result of every task is
read both ways, and any difference, missing attribute or error means this task uses the public API from then on.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

Arrays = tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]  # per face: landmarks, blendshapes, pose


@dataclass(slots=True)
class ResultReader:
    """detect / detect_for_video of one FaceLandmarker task, returning arrays: (478, 3) landmarks, the scores of
    the blendshapes (as many as the model gives) and the (4, 4) pose per face, in MediaPipe's order."""

    task: object
    direct: bool | None = None  # None until the first result has been read both ways

    def __call__(self, image, timestamp_ms: int | None = None) -> Arrays:  # noqa: ANN001 - mediapipe Image
        if self.direct is False:
            return _public(self.task, image, timestamp_ms)
        try:
            return self._direct(image, timestamp_ms)
        except Exception:  # noqa: BLE001 - a MediaPipe unlike the one this was written for: the public API
            if self.direct:
                raise
            self.direct = False
            return _public(self.task, image, timestamp_ms)

    def close(self) -> None:
        self.task.close()

    def _direct(self, image, timestamp_ms: int | None) -> Arrays:  # noqa: ANN001
        from mediapipe.tasks.python.vision.face_landmarker import FaceLandmarkerResult, MpFaceLandmarkerResultC

        task = self.task
        result = MpFaceLandmarkerResultC()
        if timestamp_ms is None:
            task._lib.MpFaceLandmarkerDetectImage(task._handle, image._image_ptr, None, ctypes.byref(result))
        else:
            task._lib.MpFaceLandmarkerDetectForVideo(task._handle, image._image_ptr, None, int(timestamp_ms),
                                                     ctypes.byref(result))
        try:
            arrays = _read(result)
            if self.direct is None:
                public = _arrays_of(FaceLandmarkerResult.from_ctypes(result))
                self.direct = _same(arrays, public)
                return public
            return arrays
        finally:
            task._lib.MpFaceLandmarkerCloseResult(ctypes.byref(result))


def _public(task, image, timestamp_ms: int | None) -> Arrays:  # noqa: ANN001
    result = task.detect(image) if timestamp_ms is None else task.detect_for_video(image, int(timestamp_ms))
    return _arrays_of(result)


def _arrays_of(result) -> Arrays:  # noqa: ANN001 - a FaceLandmarkerResult
    landmarks = [np.array([(p.x, p.y, p.z) for p in face], dtype=np.float32) for face in result.face_landmarks]
    shapes = [np.array([c.score for c in face], dtype=np.float32) for face in result.face_blendshapes or []]
    poses = [np.asarray(m, dtype=np.float32).reshape(4, 4) for m in result.facial_transformation_matrixes or []]
    return landmarks, shapes, poses


def _read(result) -> Arrays:  # noqa: ANN001 - MpFaceLandmarkerResultC
    from mediapipe.tasks.python.components.containers.category_c import MpCategoryC
    from mediapipe.tasks.python.components.containers.landmark_c import MpNormalizedLandmarkC

    landmarks = [_fields(result.face_landmarks[i].landmarks, result.face_landmarks[i].landmarks_count,
                         MpNormalizedLandmarkC, ("x", "y", "z"))
                 for i in range(result.face_landmarks_count)]
    shapes = [_fields(result.face_blendshapes[i].categories, result.face_blendshapes[i].categories_count,
                      MpCategoryC, ("score",))[:, 0]
              for i in range(result.face_blendshapes_count)]
    poses = [np.asarray(result.facial_transformation_matrixes[i].to_numpy(), dtype=np.float32).reshape(4, 4)
             for i in range(result.facial_transformation_matrixes_count)]
    return landmarks, shapes, poses


def _fields(pointer, count: int, struct: type[ctypes.Structure], names: tuple[str, ...]) -> np.ndarray:
    """(count, len(names)) float32 copy of the named float fields of a C array of `struct`; the fields must be
    adjacent, in this order (any other layout raises, and the reader falls back to the public API)."""
    first = getattr(struct, names[0]).offset
    if [getattr(struct, n).offset for n in names] != [first + 4 * k for k in range(len(names))]:
        raise TypeError(f"{struct.__name__}: fields {names} are not adjacent floats")
    if count == 0:
        return np.zeros((0, len(names)), dtype=np.float32)
    size = ctypes.sizeof(struct)
    rows = np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_uint8)), (count, size))
    return rows[:, first:first + 4 * len(names)].copy().view(np.float32)  # a copy: the result is freed next


def _same(a: Arrays, b: Arrays) -> bool:
    return all(len(x) == len(y) and all(u.shape == v.shape and np.array_equal(u, v) for u, v in zip(x, y))
               for x, y in zip(a, b))
