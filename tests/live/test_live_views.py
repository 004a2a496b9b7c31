"""The monitor's faces reach the classifier with a mirror view, derived as a default `extract` derives it
(emotui.live.analysis.with_views): real MediaPipe in VIDEO mode on a shared clip."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from emotui.data.landmarker import Landmarker
from emotui.data.landmarker import resolve_landmarker
from emotui.data.mirror import landmark_mirror_map, mirror_face
from emotui.live.analysis import with_views

from ..conftest import MEDIA


def _frames(n: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(MEDIA / "single_face.mp4"))
    frames = [cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB) for _ in range(n)]
    capture.release()
    return frames


def test_faces_without_a_view_get_the_derived_one_and_a_detected_view_is_kept():
    twin = landmark_mirror_map(resolve_landmarker(download=False))
    with Landmarker(video=True, max_faces=1, mirror_view="off") as off, \
            Landmarker(video=True, max_faces=1) as derive:
        assert derive.mirror_mode == "derive"
        for i, rgb in enumerate(_frames(3)):
            [face] = off.detect(rgb, i * 40)
            [live] = with_views([face], rgb.shape[1], off)
            np.testing.assert_array_equal(live.mirror_view.landmarks, mirror_face(face, rgb.shape[1], twin).landmarks)
            [own] = derive.detect(rgb, i * 40)  # the landmarker's own derived view is the same code
            np.testing.assert_array_equal(own.mirror_view.landmarks,
                                          mirror_face(own, rgb.shape[1], twin).landmarks)
    seen = dataclasses.replace(face, mirror_view=dataclasses.replace(face, bbox=(0.0, 0.0, 1.0, 1.0)))
    assert with_views([seen], rgb.shape[1], off)[0] is seen
