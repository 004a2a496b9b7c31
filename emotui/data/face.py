"""A detected face and the box geometry every stage shares (detection, the small-face search, tracking).

Kept apart from the landmarker so the small-face search and the tracker can use it without importing MediaPipe's
wrapper (and without an import loop through it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_LANDMARKS = 478
# MediaPipe's fixed output order of the 52 blendshape scores.
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face. Landmarks are MediaPipe's: x, y normalised to the image, z at the scale of x."""

    landmarks: np.ndarray  # (478, 3) float32
    blendshapes: np.ndarray  # (52,) float32, BLENDSHAPE_NAMES order
    transform: np.ndarray  # (4, 4) float32 facial transformation matrix (canonical face -> camera)
    bbox: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels of the original image
    # The same face meshed again in the horizontally mirrored image, in that image's coordinates: a second, partly
    # independent reading of a noisy mesh (the classifier is mirror-symmetric, so it needs no un-mirroring).
    mirror_view: Face | None = None
    # (N_APPEARANCE,) float32 HOG of the face's aligned grey crop, then its pixels (emotui.data.appearance), from
    # the image it was found in; None where the Landmarker was asked for none
    appearance: np.ndarray | None = None

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.bbox
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def face_bbox(landmarks: np.ndarray, width: int, height: int) -> tuple[float, float, float, float]:
    """x0, y0, x1, y1 in pixels of the landmarks (normalised), clipped to the image."""
    xs = np.clip(landmarks[:, 0], 0.0, 1.0) * width
    ys = np.clip(landmarks[:, 1], 0.0, 1.0) * height
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def mirrored_box(box: tuple, width: int) -> tuple:
    """A box in the horizontally mirrored image (or back): same rows, columns from the other side."""
    x0, y0, x1, y1 = box
    return width - x1, y0, width - x0, y1
