"""MediaPipe's result read into arrays directly (emotui.data.mediapipe_result) against its public API, on real faces."""

from __future__ import annotations

import cv2
import mediapipe as mp
import numpy as np
import pytest

from emotui.data import mediapipe_result
from emotui.data.landmarker import Landmarker, _new_task, read_image, resolve_landmarker
from emotui.data.mediapipe_result import ResultReader, _arrays_of

from ..conftest import MEDIA, SHARED


def _image(rgb: np.ndarray):  # noqa: ANN202
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))


def _ferplus_face() -> np.ndarray:
    path = next(iter(sorted((SHARED / "datasets" / "ferplus").rglob("*.png"))))
    return read_image(path)


@pytest.fixture(scope="module")
def image_task():
    task = _new_task(resolve_landmarker(), video=False, max_faces=6, min_confidence=0.5)
    yield task
    task.close()


@pytest.mark.parametrize("name", ["single_face.jpg", "multi_face.jpg", "ferplus", "free-mountain-vector-01.jpg"])
def test_the_direct_read_is_exactly_the_public_result(image_task, name):
    rgb = _ferplus_face() if name == "ferplus" else read_image(MEDIA / name)
    reader = ResultReader(image_task)
    direct = reader(_image(rgb))
    assert reader.direct is True  # the check passed: the fast path is what ran
    public = _arrays_of(image_task.detect(_image(rgb)))
    for ours, theirs in zip(direct, public):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert a.dtype == np.float32 and a.shape == b.shape and np.array_equal(a, b)
    if name == "multi_face.jpg":
        assert len(direct[0]) >= 2 and all(lm.shape == (478, 3) for lm in direct[0])
        assert all(s.shape == (52,) for s in direct[1]) and all(p.shape == (4, 4) for p in direct[2])
    if name.startswith("free-mountain"):
        assert direct == ([], [], [])


def test_video_frames_read_directly_match_the_public_api():
    capture = cv2.VideoCapture(str(MEDIA / "single_face.mp4"))
    frames = [cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB) for _ in range(3)]
    capture.release()
    ours = _new_task(resolve_landmarker(), video=True, max_faces=1, min_confidence=0.5)
    theirs = _new_task(resolve_landmarker(), video=True, max_faces=1, min_confidence=0.5)
    reader = ResultReader(ours)
    for ts, frame in enumerate(frames):
        got, want = reader(_image(frame), ts * 40), _arrays_of(theirs.detect_for_video(_image(frame), ts * 40))
        assert len(got[0]) == 1 and np.array_equal(got[0][0], want[0][0]) and np.array_equal(got[1][0], want[1][0])
    assert reader.direct is True
    ours.close()
    theirs.close()


class _PublicOnly:
    """A task with MediaPipe's public methods only (as another MediaPipe version might look from here)."""

    def __init__(self, task) -> None:  # noqa: ANN001
        self.detect = task.detect


def test_a_task_without_the_private_handle_falls_back_to_the_public_api(image_task):
    rgb = read_image(MEDIA / "single_face.jpg")
    reader = ResultReader(_PublicOnly(image_task))
    got = reader(_image(rgb))
    assert reader.direct is False
    assert np.array_equal(got[0][0], _arrays_of(image_task.detect(_image(rgb)))[0][0])


def test_a_read_that_disagrees_with_the_public_api_is_never_trusted(image_task, monkeypatch):
    rgb = read_image(MEDIA / "single_face.jpg")
    real_read = mediapipe_result._read
    monkeypatch.setattr(mediapipe_result, "_read", lambda result: ([a + 1 for a in real_read(result)[0]], [], []))
    reader = ResultReader(image_task)
    first, second = reader(_image(rgb)), reader(_image(rgb))
    assert reader.direct is False
    public = _arrays_of(image_task.detect(_image(rgb)))
    assert np.array_equal(first[0][0], public[0][0]) and np.array_equal(second[0][0], public[0][0])


def test_the_landmarker_gives_the_same_faces_through_either_path(monkeypatch):
    rgb = read_image(MEDIA / "multi_face.jpg")
    with Landmarker(max_faces=6) as lm:
        fast = lm.detect(rgb)
    monkeypatch.setattr(ResultReader, "_direct", lambda self, image, ts: (_ for _ in ()).throw(AttributeError("x")))
    with Landmarker(max_faces=6) as lm:
        slow = lm.detect(rgb)
    assert len(fast) == len(slow) == 5
    for a, b in zip(fast, slow):
        assert np.array_equal(a.landmarks, b.landmarks) and np.array_equal(a.blendshapes, b.blendshapes)
        assert np.array_equal(a.transform, b.transform) and a.bbox == b.bbox
        assert np.array_equal(a.appearance, b.appearance)
