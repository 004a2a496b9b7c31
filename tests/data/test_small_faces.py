"""Small faces (emotui.data.small_faces through Landmarker.detect): the real FaceLandmarker on real images."""

from __future__ import annotations

import numpy as np
import pytest

from emotui.data import small_faces
from emotui.data.detection import detect_image
from emotui.data.features import N_BLENDSHAPES, face_arrays
from emotui.data.landmarker import Landmarker, read_image

from ..conftest import DATASETS, MEDIA

# ferplus images (48x48 tight crops) the single pass finds no face in; a grey border finds one.
FERPLUS_MISSED = ("sad/fer0014536.png", "surprise/fer0022702.png", "anger/fer0002243.png")


@pytest.fixture(scope="module")
def single():
    with Landmarker(max_faces=5, search=False, refine_small=False) as lm:
        yield lm


@pytest.fixture(scope="module")
def default():
    with Landmarker(max_faces=5) as lm:
        yield lm


@pytest.fixture(scope="module")
def reference(single):
    """single_face.jpg's face where it fills a third of the frame, and that face pasted, at the same pixels, in
    the middle of a grey canvas 2000 px wide (9 % of its side): the single pass's mesh there is bad."""
    rgb = read_image(MEDIA / "single_face.jpg")
    canvas = np.full((2000, 2000, 3), 128, np.uint8)
    canvas[700:700 + rgb.shape[0], 700:700 + rgb.shape[1]] = rgb
    return face_arrays(single.detect(rgb)), canvas


def _errors(faces, ref):
    points, blend = face_arrays(faces[:1])
    cut = slice(0, N_BLENDSHAPES)  # the mesh's own blendshapes, not the appearance after them
    return float(np.abs(points - ref[0]).mean()), float(np.abs(blend[:, cut] - ref[1][:, cut]).mean())


def test_a_face_small_in_the_frame_is_meshed_as_well_as_a_large_one(single, default, reference):
    ref, canvas = reference
    bad_points, bad_blend = _errors(single.detect(canvas), ref)
    points, blend = _errors(default.detect(canvas), ref)
    assert bad_points > 0.02 and bad_blend > 0.05  # the problem: the single pass's mesh is off
    # Meshing one face twice at other places in a frame differs by ~0.004 and ~0.015 (measured): that is the floor.
    assert points < 0.0065 and blend < 0.025, (points, blend)


def test_video_mode_refines_small_faces_with_an_image_mode_twin(reference):
    ref, canvas = reference
    with Landmarker(video=True) as lm:
        assert not lm.search
        faces = [lm.detect(canvas, ts) for ts in (0, 40)][-1]
    points, blend = _errors(faces, ref)
    assert points < 0.0065 and blend < 0.025, (points, blend)


def test_a_remapped_face_keeps_the_canonical_points_of_its_crop(single, reference):
    _, canvas = reference
    face = single.detect(canvas)[0]
    crop, origin, scale = small_faces.crop_around(canvas, face.bbox)
    in_crop = single.detect(crop)[0]
    back = small_faces.remap(in_crop, crop.shape, origin, scale, canvas.shape[1], canvas.shape[0])
    x0, y0, x1, y1 = back.bbox
    assert 700 < x0 < x1 < 700 + 572 and 700 < y0 < y1 < 700 + 562
    assert np.allclose(face_arrays([back])[0], face_arrays([in_crop])[0], atol=1e-4)
    assert np.array_equal(back.blendshapes, in_crop.blendshapes) and np.array_equal(back.transform, in_crop.transform)


def test_all_five_faces_of_the_group_photo(single, default):
    rgb = read_image(MEDIA / "multi_face.jpg")
    assert len(single.detect(rgb)) == 2  # the problem
    faces = default.detect(rgb)
    assert len(faces) == 5
    boxes = [f.bbox for f in faces]
    assert all(small_faces.iou(a, b) < 0.1 for i, a in enumerate(boxes) for b in boxes[i + 1:])
    centres = sorted((x0 + x1) / 2 for x0, _, x1, _ in boxes)
    assert [round(c, -2) for c in centres] == [300, 400, 500, 600, 700]  # one face per person, left to right


def test_no_search_once_enough_faces_are_found(default, monkeypatch):
    calls = []
    monkeypatch.setattr(small_faces, "search", lambda *a: calls.append(1) or [])
    rgb = read_image(MEDIA / "single_face.jpg")
    assert len(default.detect(rgb, want=1)) == 1 and calls == []
    assert len(default.detect(rgb)) == 1 and calls == [1]  # want defaults to max_faces


@pytest.mark.parametrize("name", FERPLUS_MISSED)
def test_tight_crops_the_single_pass_misses_are_found(single, default, name):
    path = DATASETS / "ferplus" / name
    assert single.detect(read_image(path)) == []
    record = detect_image(default, str(path), max_faces=1)
    assert record.status == "ok" and record.n_faces == 1
    x0, y0, x1, y1 = record.faces[0][3]
    assert (x1 - x0) > 24 and (y1 - y0) > 24  # the face, not a speck: it fills most of the 48x48 crop


# FER+ valid crops that even a quarter grey border misses: a wider border or stretched contrast finds them.
FERPLUS_DIM = ("anger/fer0028732.png", "anger/fer0028866.png")


@pytest.mark.parametrize("name", FERPLUS_DIM)
def test_crops_a_grey_border_misses_are_found_by_the_crop_retries(default, monkeypatch, name):
    path = DATASETS / "ferplus" / name
    monkeypatch.setattr(small_faces, "CROP_RETRIES", ())
    monkeypatch.setattr(Landmarker, "_rescue", lambda self, rgb, want: [])  # the mirror and turns find it too
    assert default.detect(read_image(path)) == []
    monkeypatch.undo()
    record = detect_image(default, str(path), max_faces=1)
    assert record.status == "ok" and record.n_faces == 1
    x0, y0, x1, y1 = record.faces[0][3]
    assert (x1 - x0) > 24 and (y1 - y0) > 24 and x0 >= 0 and y0 >= 0 and x1 <= 48 and y1 <= 48


def test_large_frames_get_no_crop_retries(default, monkeypatch):
    calls = []
    monkeypatch.setattr(small_faces, "_equalised", lambda rgb: calls.append(rgb.shape) or rgb)
    assert default.detect(read_image(MEDIA / "free-mountain-vector-01.jpg")) == [] and calls == []


def test_no_face_stays_no_face(default):
    assert default.detect(read_image(MEDIA / "free-mountain-vector-01.jpg")) == []
