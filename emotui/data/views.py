"""Other views of an image than the one the landmarker was given: the mirrored image, for a second reading of each
face (Face.mirror_view), and the image mirrored and turned, for the faces no pass found (the rescue).

Functions of the passes they are handed, so they need neither MediaPipe nor the Landmarker (emotui.data.landmarker
calls them with its own).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from .face import Face, iou, mirrored_box

# The faces of an image in IMAGE mode, largest first, a search stopping at `want` faces (Landmarker._find).
FindFn = Callable[[np.ndarray, int | None], list[Face]]
# Faces of an image given with something added from that image (their mirror views, their appearance).
AddFn = Callable[[np.ndarray, list[Face]], list[Face]]


def with_views(rgb: np.ndarray, faces: list[Face], find: FindFn) -> list[Face]:
    """`faces` of `rgb`, each with the face of the mirrored image that is it (when that pass found it)."""
    width = rgb.shape[1]
    mirrored = np.ascontiguousarray(rgb[:, ::-1])
    # it looks for the faces already found, not for more: a search there would find no face worth a view
    views = find(mirrored, len(faces))
    return [with_mirror_view(face, views, width) for face in faces]


def with_mirror_view(face: Face, views: list[Face], width: int) -> Face:
    """`face` with the view of the mirrored image whose box, mirrored back, overlaps it most (none below
    SAME_FACE_IOU: a different face, or one the mirrored pass missed)."""
    from .small_faces import SAME_FACE_IOU

    best = max(views, key=lambda v: iou(mirrored_box(v.bbox, width), face.bbox), default=None)
    if best is None or iou(mirrored_box(best.bbox, width), face.bbox) < SAME_FACE_IOU:
        return face
    return dataclasses.replace(face, mirror_view=best)


def rescue(rgb: np.ndarray, want: int | None, find: FindFn, add_views: AddFn, add_appearance: AddFn) -> list[Face]:
    """Faces of an image where every pass found none, from the image mirrored and then turned
    (emotui.data.small_faces.RESCUE_TURNS). A face found in the mirror is that mesh, in the mirrored image's
    coordinates like any mirror view (the classifier takes either), with its box mirrored back; it has no view."""
    from . import small_faces

    height, width = rgb.shape[:2]
    mirrored = np.ascontiguousarray(rgb[:, ::-1])
    views = find(mirrored, want)
    if views:
        return [dataclasses.replace(v, bbox=mirrored_box(v.bbox, width)) for v in add_appearance(mirrored, views)]
    for degrees in small_faces.RESCUE_TURNS:
        image, back = small_faces.turned(rgb, degrees)
        found = add_views(image, find(image, want))
        if found:  # the crop is aligned by the eyes, so the upright image serves
            return add_appearance(rgb, [small_faces.unturn(face, back, width, height) for face in found])
    return []
