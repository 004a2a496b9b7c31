"""The real FaceLandmarker on real images from ../shared."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from emotui.errors import ImageReadError, LandmarkerModelError
from emotui.data.landmarker import (
    BLENDSHAPE_NAMES,
    LANDMARKER_SHA256,
    Landmarker,
    read_image,
    resolve_landmarker,
    verify_landmarker,
)

from ..conftest import MEDIA, SHARED_TASK, serve_folder


@pytest.fixture(scope="module")
def landmarker():
    with Landmarker(max_faces=4) as lm:
        yield lm


def test_single_face_has_478_points_52_blendshapes_and_a_pose(landmarker):
    faces = landmarker.detect(read_image(MEDIA / "single_face.jpg"))
    assert len(faces) == 1
    face = faces[0]
    assert face.landmarks.shape == (478, 3) and face.landmarks.dtype == np.float32
    assert face.blendshapes.shape == (52,) and len(BLENDSHAPE_NAMES) == 52
    assert 0.0 <= face.blendshapes.min() and face.blendshapes.max() <= 1.0
    assert face.transform.shape == (4, 4)
    assert np.allclose(face.transform[3], [0, 0, 0, 1], atol=1e-4)  # a rigid transform, not garbage
    x0, y0, x1, y1 = face.bbox
    assert 0 <= x0 < x1 <= 572 and 0 <= y0 < y1 <= 562


def test_at_most_max_faces_largest_first(landmarker):
    faces = landmarker.detect(read_image(MEDIA / "multi_face.jpg"))  # five people
    assert len(faces) == 4
    assert [f.area for f in faces] == sorted((f.area for f in faces), reverse=True)


def test_no_face_in_a_landscape(landmarker):
    assert landmarker.detect(read_image(MEDIA / "free-mountain-vector-01.jpg")) == []


def test_rgba_grey_and_16bit_images_read_as_rgb(tmp_path, landmarker):
    rgba = read_image(MEDIA / "Image_with_alpha.png")
    assert rgba.ndim == 3 and rgba.shape[2] == 3 and rgba.dtype == np.uint8
    bgr = cv2.imread(str(MEDIA / "single_face.jpg"))
    cv2.imwrite(str(tmp_path / "grey.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(tmp_path / "deep.png"), bgr.astype(np.uint16) * 257)
    for name in ("grey.png", "deep.png"):
        rgb = read_image(tmp_path / name)
        assert rgb.shape == bgr.shape and rgb.dtype == np.uint8
        assert len(landmarker.detect(rgb)) == 1


def test_exif_orientation_is_honoured(tmp_path):
    """A JPEG stored sideways with EXIF orientation 6 (rotate 90 CW) must come back upright."""
    bgr = cv2.imread(str(MEDIA / "single_face.jpg"))
    sideways = cv2.rotate(bgr, cv2.ROTATE_90_COUNTERCLOCKWISE)
    ok, jpeg = cv2.imencode(".jpg", sideways)
    assert ok
    # Minimal APP1 Exif segment: big-endian TIFF, one IFD entry, Orientation (0x0112) = 6.
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00" + b"\x00" * 4
    app1 = b"\xff\xe1" + (len(tiff) + 8).to_bytes(2, "big") + b"Exif\x00\x00" + tiff
    path = tmp_path / "rotated.jpg"
    path.write_bytes(jpeg.tobytes()[:2] + app1 + jpeg.tobytes()[2:])
    assert read_image(path).shape[:2] == bgr.shape[:2]


@pytest.mark.parametrize("content", [b"", b"this is not an image", b"\xff\xd8\xff\xe0" + b"\x00" * 64])
def test_unreadable_files_raise_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match="bad.jpg"):
        read_image(path)


def test_video_mode_tracks_with_monotonic_timestamps():
    rgb = read_image(MEDIA / "single_face.jpg")
    with Landmarker(video=True) as lm:
        assert len(lm.detect(rgb, 0)) == 1
        assert len(lm.detect(rgb, 0)) == 1  # a repeated timestamp is nudged forward, not an error


def test_model_file_checks(tmp_path, monkeypatch):
    assert verify_landmarker(SHARED_TASK) == LANDMARKER_SHA256
    truncated = tmp_path / "face_landmarker.task"
    truncated.write_bytes(SHARED_TASK.read_bytes()[:1000])
    with pytest.raises(LandmarkerModelError, match="not the expected"):
        resolve_landmarker(truncated)
    monkeypatch.delenv("EMOTUI_LANDMARKER", raising=False)
    monkeypatch.setenv("EMOTUI_MODELS", str(tmp_path / "empty"))
    with pytest.raises(LandmarkerModelError, match="put face_landmarker.task at"):
        resolve_landmarker(download=False)


def test_download_is_verified_and_atomic(tmp_path, monkeypatch):
    """Download from a local HTTP server: a good file lands, a wrong one is refused and leaves nothing."""
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(SHARED_TASK, served / "good.task")
    (served / "bad.task").write_bytes(b"x" * 4096)
    monkeypatch.delenv("EMOTUI_LANDMARKER", raising=False)
    monkeypatch.setenv("EMOTUI_MODELS", str(tmp_path / "models"))
    with serve_folder(served) as (base, _):
        monkeypatch.setenv("EMOTUI_LANDMARKER_URL", f"{base}/bad.task")
        with pytest.raises(LandmarkerModelError, match="not the expected"):
            resolve_landmarker()
        assert list((tmp_path / "models").iterdir()) == []
        monkeypatch.setenv("EMOTUI_LANDMARKER_URL", f"{base}/missing.task")
        with pytest.raises(LandmarkerModelError, match="cannot download"):
            resolve_landmarker()
        monkeypatch.setenv("EMOTUI_LANDMARKER_URL", f"{base}/good.task")
        seen = []
        path = resolve_landmarker(on_progress=lambda done, total: seen.append((done, total)))
        assert path == tmp_path / "models" / "face_landmarker.task"
        assert verify_landmarker(path) == LANDMARKER_SHA256 and seen[-1][0] == seen[-1][1] > 0
