"""Faces no pass finds, looked for again in the image mirrored and turned (Landmarker._rescue): real FaceLandmarker,
real ferplus crops that every earlier pass misses."""

from __future__ import annotations

import numpy as np
import pytest

from emotui.data import small_faces
from emotui.data.detection import detect_image
from emotui.data.features import face_arrays
from emotui.data.landmarker import Landmarker, read_image
from emotui.data.face import iou, mirrored_box

from ..conftest import DATASETS, MEDIA

FOUND_IN_MIRROR = DATASETS / "ferplus" / "anger" / "fer0000797.png"
FOUND_TURNED = DATASETS / "ferplus" / "anger" / "fer0000067.png"  # by the first turn (-12 degrees)


@pytest.fixture(scope="module")
def landmarker():
    with Landmarker(max_faces=1) as lm:
        yield lm


def _missed_by_every_pass(lm: Landmarker, rgb: np.ndarray) -> bool:
    return lm._find(rgb, lm._image_pass(rgb), 1) == []


def test_a_face_only_the_mirror_finds_is_kept_with_its_box_in_the_frame(landmarker):
    rgb = read_image(FOUND_IN_MIRROR)
    assert _missed_by_every_pass(landmarker, rgb)
    [face] = landmarker.detect(rgb)
    mirrored = np.ascontiguousarray(rgb[:, ::-1])
    [seen] = landmarker._find(mirrored, landmarker._image_pass(mirrored), 1)
    assert face.mirror_view is None  # its view would be the image every pass missed
    np.testing.assert_array_equal(face.landmarks, seen.landmarks)  # the mirrored image's mesh, as mirror views are
    assert face.bbox == pytest.approx(mirrored_box(seen.bbox, rgb.shape[1]))
    x0, y0, x1, y1 = face.bbox
    assert x1 - x0 > 24 and y1 - y0 > 24 and x0 >= 0 and x1 <= 48


def test_a_face_only_a_turn_finds_comes_back_in_the_frame_with_its_pose_free_points(landmarker):
    rgb = read_image(FOUND_TURNED)
    assert _missed_by_every_pass(landmarker, rgb)
    assert _missed_by_every_pass(landmarker, np.ascontiguousarray(rgb[:, ::-1]))
    [face] = landmarker.detect(rgb)
    turned, _ = small_faces.turned(rgb, small_faces.RESCUE_TURNS[0])
    [seen] = landmarker._find(turned, landmarker._image_pass(turned), 1)
    np.testing.assert_allclose(face_arrays([face])[0], face_arrays([seen])[0], atol=1e-4)
    np.testing.assert_array_equal(face.blendshapes, seen.blendshapes)
    x0, y0, x1, y1 = face.bbox
    assert x1 - x0 > 24 and y1 - y0 > 24
    assert detect_image(landmarker, str(FOUND_TURNED)).status == "ok"


@pytest.mark.parametrize("degrees", [-12.0, 12.0, 25.0])
def test_turning_back_puts_the_mesh_where_the_face_is(landmarker, degrees):
    rgb = read_image(MEDIA / "single_face.jpg")
    height, width = rgb.shape[:2]
    [upright] = landmarker.detect(rgb)
    turned, back = small_faces.turned(rgb, degrees)
    [found] = landmarker._find(turned, landmarker._image_pass(turned), 1)
    face = small_faces.unturn(found, back, width, height)
    assert iou(face.bbox, upright.bbox) > 0.9
    assert np.abs(face.landmarks[:, :2] - upright.landmarks[:, :2]).mean() < 0.005  # was ~0.05 before turning back
    assert np.abs(found.landmarks[:, :2] - upright.landmarks[:, :2]).mean() > 0.01
    np.testing.assert_allclose(face_arrays([face])[0], face_arrays([found])[0], atol=1e-4)


def test_video_mode_does_not_rescue():
    with Landmarker(video=True) as lm:  # a video's frames are tracked: no search, no rescue per frame
        assert lm.detect(read_image(FOUND_IN_MIRROR), 0) == []


def test_an_image_without_a_face_still_has_none(landmarker):
    assert landmarker.detect(read_image(MEDIA / "free-mountain-vector-01.jpg")) == []
