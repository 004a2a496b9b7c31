"""A face's mirror view derived from its one detection: the face the horizontally mirrored image would give,
without meshing that image again.

MediaPipe's mesh is built on a left/right symmetric canonical face, so mirroring a face reflects x and swaps each
point with its twin; the 52 blendshapes come in ...Left/...Right pairs that swap the same way. The twins are read
from the canonical mesh inside face_landmarker.task (geometry_pipeline_metadata_landmarks.binarypb), never typed
by hand, so they follow the model file. The crop the appearance is read from is the mirror of the face's own crop
(emotui.data.appearance keeps its targets symmetric), so a view needs no appearance of its own.

A derived view is exact where a second detection is noisy: what it adds to a classifier that already averages a
face with its mirror image is measured in models/default/NOTES.md ("Mirror views").
"""

from __future__ import annotations

import dataclasses
import functools
import zipfile
from pathlib import Path

import numpy as np

from ..errors import EmotuiError, LandmarkerModelError
from .appearance import _LEFT_EYE, _RIGHT_EYE
from .face import BLENDSHAPE_NAMES, N_LANDMARKS, Face, mirrored_box
from .schema import MIRROR_VIEWS

DEFAULT_MIRROR_VIEW = "derive"
_GEOMETRY_ENTRY = "geometry_pipeline_metadata_landmarks.binarypb"
_N_MESH = 468  # the canonical mesh's points; the 10 iris points that follow are MediaPipe's iris model's
_FLIP = np.array([-1.0, 1.0, 1.0, 1.0])


def mirror_mode(value: str | bool | None) -> str:
    """One of MIRROR_VIEWS from a mode or the older bool (True: the second detection it always meant)."""
    if value is None:
        return DEFAULT_MIRROR_VIEW
    if isinstance(value, bool):
        return "detect" if value else "off"
    if value not in MIRROR_VIEWS:
        raise EmotuiError(f"mirror view {value!r} is not one of {', '.join(MIRROR_VIEWS)}")
    return value


# ---------------------------------------------------------------- the correspondence

def _wire_fields(buffer: bytes):  # noqa: ANN202 - (field, wire type, value) of one protobuf message
    """Protobuf's wire format, enough to read a Mesh3d: mediapipe's wheel ships no Python class for the message."""
    def varint(i: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = buffer[i]
            value, shift, i = value | (byte & 0x7F) << shift, shift + 7, i + 1
            if byte < 0x80:
                return value, i

    i = 0
    while i < len(buffer):
        key, i = varint(i)
        wire = key & 7
        if wire == 0:
            value, i = varint(i)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = buffer[i:i + size], i + size
        elif wire == 2:
            size, i = varint(i)
            value, i = buffer[i:i + size], i + size
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield key >> 3, wire, value


def canonical_mesh(model_path: str | Path) -> np.ndarray:
    """(468, 3) canonical face of a face_landmarker.task: GeometryPipelineMetadata.canonical_mesh (field 1), a
    Mesh3d whose vertex_buffer (field 3) holds x, y, z, u, v per vertex."""
    try:
        with zipfile.ZipFile(model_path) as bundle:
            metadata = bundle.read(_GEOMETRY_ENTRY)
        mesh = next(v for f, w, v in _wire_fields(metadata) if f == 1 and w == 2)
        values = [np.frombuffer(v, "<f4") for f, w, v in _wire_fields(mesh) if f == 3]
        vertices = np.concatenate(values).reshape(-1, 5)[:, :3].astype(np.float64)
    except (OSError, KeyError, StopIteration, ValueError, IndexError, zipfile.BadZipFile) as exc:
        raise LandmarkerModelError(f"no canonical face in {model_path} ({type(exc).__name__}): "
                                   "the mirror view cannot be derived; use --mirror-view detect") from None
    if vertices.shape != (_N_MESH, 3):
        raise LandmarkerModelError(f"the canonical face in {model_path} has {len(vertices)} points, not {_N_MESH}")
    return vertices


def _with_irises(mesh: np.ndarray) -> np.ndarray:
    """The mesh and the 10 iris points placed on it. The iris model lists, for the eye of corners _LEFT_EYE and
    then the other, the centre and four points in one fixed direction order (+x, +y, -x, -y of the face), which a
    mirror turns into (-x, +y, +x, -y): that order, checked against real detections in the tests, is all the
    correspondence needs; where on the eye the points sit does not matter beyond their side."""
    irises = []
    for corners in (_LEFT_EYE, _RIGHT_EYE):
        centre = mesh[list(corners)].mean(0)
        radius = np.linalg.norm(mesh[corners[0]] - mesh[corners[1]]) / 4
        steps = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]], dtype=np.float64)
        irises.append(centre + radius * steps)
    return np.concatenate([mesh, *irises])


def twins(points: np.ndarray) -> np.ndarray:
    """Index of each point's twin in a left/right symmetric point set: its nearest neighbour once x is reflected.
    Raises unless that is an involution (a point's twin's twin is itself) and every twin lies where the
    reflection puts it: a set that is not symmetric has no correspondence to find."""
    pts = np.asarray(points, dtype=np.float64)
    dist = ((pts[:, None, :] * _FLIP[:3] - pts[None, :, :]) ** 2).sum(-1)
    index = dist.argmin(1)
    scale = np.sqrt(((pts - pts.mean(0)) ** 2).sum(1).mean())
    off = np.sqrt(dist[np.arange(len(pts)), index]).max() / scale
    if not np.array_equal(index[index], np.arange(len(pts))) or off > 1e-3:
        raise LandmarkerModelError(f"the canonical face is not mirror-symmetric (a twin {off:.3g} radii away)")
    return index


@functools.cache
def _landmark_twins(model_path: str) -> np.ndarray:
    index = twins(_with_irises(canonical_mesh(model_path)))
    index.setflags(write=False)
    return index


def landmark_mirror_map(model_path: str | Path) -> np.ndarray:
    """(478,) index of each landmark's left/right twin, read once per model file (the landmarker's model_path:
    mirror reads the file, the landmarker finds it, so neither imports the other)."""
    return _landmark_twins(str(Path(model_path).resolve()))


def _blendshape_twins() -> np.ndarray:
    names = list(BLENDSHAPE_NAMES)
    out = np.arange(len(names))
    for i, name in enumerate(names):
        for side, other in (("Left", "Right"), ("Right", "Left")):
            if name.endswith(side):
                out[i] = names.index(name[: -len(side)] + other)
    return out


# (52,) each blendshape's twin by name: a ...Left score of a face is the ...Right score of its mirror image.
BLENDSHAPE_MIRROR = _blendshape_twins()


# ---------------------------------------------------------------- mirroring

def mirror_landmarks(landmarks: np.ndarray, twin: np.ndarray) -> np.ndarray:
    """(..., 478, 3) normalised landmarks -> those of the mirrored image: twins swapped, x reflected about the
    image's middle (normalised x runs 0..1), y and z as they were (depth does not change in a mirror)."""
    out = np.asarray(landmarks, dtype=np.float32)[..., twin, :].copy()
    out[..., 0] = 1.0 - out[..., 0]
    return out


def mirror_transform(transform: np.ndarray) -> np.ndarray:
    """(..., 4, 4) canonical face -> camera matrices -> the mirrored face's: S M S with S = diag(-1, 1, 1, 1). The
    camera's x is mirrored on the left and the canonical face's on the right, which the twin swap makes the same
    face again."""
    flip = _FLIP.astype(np.float32)
    return (np.asarray(transform, dtype=np.float32) * flip[:, None] * flip[None, :]).astype(np.float32)


def mirror_face(face: Face, width: float, twin: np.ndarray) -> Face:
    """The view of `face` (of an image `width` pixels wide) that the mirrored image gives, in that image's
    coordinates like a detected view; it has no appearance (its crop is the face's, mirrored) and no view."""
    assert face.landmarks.shape == (N_LANDMARKS, 3), face.landmarks.shape
    return Face(mirror_landmarks(face.landmarks, twin), face.blendshapes[BLENDSHAPE_MIRROR],
                mirror_transform(face.transform), mirrored_box(face.bbox, width))


def with_derived_views(faces: list[Face], width: float, twin: np.ndarray) -> list[Face]:
    """The faces, each without a view given its derived one (a face that has one keeps it)."""
    return [face if face.mirror_view is not None else dataclasses.replace(face, mirror_view=mirror_face(face, width, twin))
            for face in faces]
