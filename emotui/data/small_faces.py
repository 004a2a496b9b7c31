"""Faces small in the frame: finding the ones a single pass misses, and meshing them again on an enlarged crop.

MediaPipe's FaceLandmarker first runs a detector on the whole frame squeezed to 128x128, then meshes each face
inside the box that detector gave. Measured on ../shared/media (see benchmarks/README.md, "Detection"): what
spoils the mesh is the face's size relative to the frame, not its pixels. single_face.jpg shrunk until its face
is 37 px keeps a usable mesh, while the same 183 px face pasted into a 2000 px canvas (9 % of the side) comes back
with 14x the landmark error and its blendshapes wrong; upscaling a small image adds nothing. So "small" is
relative (SMALL_FRACTION), and the fix is a crop, not an upscale. For the same reason tight crops (ferplus's
48x48 faces) are missed for lack of context around the face, and a grey border finds most of them.

Every sub-image here (padded frame, tile, crop) is the frame moved and scaled: sub_px = (frame_px - origin) *
scale, so faces found in it map back exactly (remap) and keep their canonical points (the feature spec centres
and scales them away).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .face import Face, face_bbox, iou

# A face whose longer side is below this fraction of the frame's longer side is meshed again on a crop.
SMALL_FRACTION = 0.25
CROP_MARGIN = 2.0  # crop side / face side: the face fills half the crop, as the detector likes it
CROP_FACE_SIDE = 256  # pixels of the face in the crop
PAD_FRACTION = 0.25  # grey border, of the frame's longer side, for faces that fill or overflow the frame
# Face crops (a frame this small or smaller) that even that border misses: a wider border, then the contrast
# stretched (the detector misses dim, flat grey faces), then the edge copied outwards. On the 98 FER+ valid faces
# missed otherwise, these passes find 47. Each is (border fraction, equalised, edge copied).
CROP_IMAGE_SIDE = 256
CROP_RETRIES = ((0.5, False, False), (0.25, True, False), (0.5, True, False), (0.25, False, True), (0.0, True, False))
TILE_MIN_SIDE = 640  # below this, a face small enough to be missed has too few pixels to be worth a tile search
TILE_FRACTION = 0.6  # 2x2 tiles of this fraction of each side: they overlap by 0.2, so any face up to a fifth of
# the frame lies whole in one tile, and larger ones are what the full pass finds
SAME_FACE_IOU = 0.4
GREY = (128, 128, 128)
# When every pass above finds nothing, the image mirrored and then turned by these angles: the detector reads the
# pixels on another grid, and many faces it misses are tilted. On ferplus's 456 images (of 30,330) missed
# otherwise, the mirror finds 188 and the turns 117 more (models/default/NOTES.md). Only images with no face pay.
RESCUE_TURNS = (-12.0, 12.0)

RunFn = Callable[[np.ndarray], list[Face]]


def remap(face: Face, sub_shape: tuple, origin: tuple[float, float], scale: float, width: int, height: int) -> Face:
    """A face found in a sub-image (sub_px = (frame_px - origin) * scale) in the frame's normalised coordinates.

    z is normalised like x (MediaPipe's convention), so it takes x's factor; blendshapes and pose stay as found.
    """
    sub_h, sub_w = sub_shape[:2]
    lm = face.landmarks.astype(np.float64)
    out = np.empty_like(lm)
    out[:, 0] = (origin[0] + lm[:, 0] * sub_w / scale) / width
    out[:, 1] = (origin[1] + lm[:, 1] * sub_h / scale) / height
    out[:, 2] = lm[:, 2] * sub_w / scale / width
    out = out.astype(np.float32)
    return Face(out, face.blendshapes, face.transform, face_bbox(out, width, height))


def is_small(face: Face, width: int, height: int) -> bool:
    x0, y0, x1, y1 = face.bbox
    return max(x1 - x0, y1 - y0) < SMALL_FRACTION * max(width, height)


def crop_around(rgb: np.ndarray, bbox: tuple) -> tuple[np.ndarray, tuple[float, float], float]:
    """A square crop CROP_MARGIN times the face's longer side, centred on it, grey outside the frame, resized so
    the face is CROP_FACE_SIDE px -> (crop, origin, scale)."""
    import cv2

    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = bbox
    side = max(8, int(round(max(x1 - x0, y1 - y0) * CROP_MARGIN)))
    left, top = int(round((x0 + x1 - side) / 2)), int(round((y0 + y1 - side) / 2))
    inner = rgb[max(top, 0):min(top + side, height), max(left, 0):min(left + side, width)]
    pads = (max(-top, 0), max(top + side - height, 0), max(-left, 0), max(left + side - width, 0))
    square = cv2.copyMakeBorder(inner, *pads, cv2.BORDER_CONSTANT, value=GREY) if any(pads) else inner
    out_side = int(round(CROP_FACE_SIDE * CROP_MARGIN))
    scale = out_side / side
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.resize(np.ascontiguousarray(square), (out_side, out_side), interpolation=interp)
    return crop, (float(left), float(top)), scale


def refine(run: RunFn, rgb: np.ndarray, face: Face) -> Face:
    """The face meshed again on an enlarged crop of `rgb` (the frame); the original if the crop finds no face
    where it was."""
    height, width = rgb.shape[:2]
    crop, origin, scale = crop_around(rgb, face.bbox)
    found = [remap(f, crop.shape, origin, scale, width, height) for f in run(crop)]
    best = max(found, key=lambda f: iou(f.bbox, face.bbox), default=None)
    return best if best is not None and iou(best.bbox, face.bbox) >= SAME_FACE_IOU else face


def search(run: RunFn, small: np.ndarray, width: int, height: int, none_found: bool = True) -> list[Face]:
    """Faces in a grey-bordered copy of the frame when the full pass found none (a face that fills or overflows
    the frame is alone in it) and, for large frames, in 2x2 overlapping tiles: at most 5 passes. `small` is the
    frame as the full pass saw it (possibly shrunk), width and height the frame's own."""
    import cv2

    s_h, s_w = small.shape[:2]
    scale = s_w / width  # small = frame * scale
    found: list[Face] = []
    if none_found:
        retries = ((PAD_FRACTION, False, False), *(CROP_RETRIES if max(s_h, s_w) <= CROP_IMAGE_SIDE else ()))
        for fraction, equalise, edge in retries:  # until one finds a face
            pad = int(round(fraction * max(s_h, s_w)))
            image = _equalised(small) if equalise else small
            kind = cv2.BORDER_REPLICATE if edge else cv2.BORDER_CONSTANT  # (value only fills a constant border)
            padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, kind, value=GREY) if pad else image
            found += [remap(f, padded.shape, (-pad / scale, -pad / scale), scale, width, height) for f in run(padded)]
            if found:
                break
    if max(s_h, s_w) >= TILE_MIN_SIDE:
        t_w, t_h = int(s_w * TILE_FRACTION), int(s_h * TILE_FRACTION)
        for top in (0, s_h - t_h):
            for left in (0, s_w - t_w):
                tile = np.ascontiguousarray(small[top:top + t_h, left:left + t_w])
                found += [remap(f, tile.shape, (left / scale, top / scale), scale, width, height) for f in run(tile)]
    return found


def _equalised(rgb: np.ndarray) -> np.ndarray:
    """The image with its brightness histogram equalised (colours kept)."""
    import cv2

    ycc = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb)
    ycc[..., 0] = cv2.equalizeHist(ycc[..., 0])
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def turned(rgb: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """The image turned about its centre (same size, edges copied into the corners) -> (image, back), `back`
    the 2x3 map from the turned image's pixels to the frame's."""
    import cv2

    height, width = rgb.shape[:2]
    forward = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    image = cv2.warpAffine(rgb, forward, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return image, cv2.invertAffineTransform(forward)


def unturn(face: Face, back: np.ndarray, width: int, height: int) -> Face:
    """A face found in a turned image (emotui.data.small_faces.turned) as if found in the frame: landmarks turned back,
    and the pose matrix turned with them, so its pose-free points (emotui.data.features) stay what they were."""
    lm = face.landmarks.astype(np.float64)
    px = np.stack([lm[:, 0] * width, lm[:, 1] * height, np.ones(len(lm))], axis=1) @ back.T
    out = np.stack([px[:, 0] / width, px[:, 1] / height, lm[:, 2]], axis=1).astype(np.float32)
    # The same turn in the camera frame (y up instead of down); z, along the optical axis, stays.
    flip = np.diag([1.0, -1.0])
    turn = np.eye(4)
    turn[:2, :2] = flip @ back[:, :2] @ flip
    transform = (turn @ face.transform.astype(np.float64)).astype(np.float32)
    return Face(out, face.blendshapes, transform, face_bbox(out, width, height), face.mirror_view)


def merge(kept: list[Face], extra: list[Face]) -> list[Face]:
    """kept plus the faces of extra not already there (by bbox IoU); of two sightings of one face the larger
    box wins, since a face cut by a tile's edge comes back with a smaller one."""
    out = list(kept)
    for face in sorted(extra, key=lambda f: f.area, reverse=True):
        if all(iou(face.bbox, other.bbox) < SAME_FACE_IOU for other in out):
            out.append(face)
    return out


def dedupe(faces: list[Face]) -> list[Face]:
    return merge([], faces)
