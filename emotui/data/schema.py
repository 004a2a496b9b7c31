"""The features file: Parquet, one row per face (or one row for an image that gave none).

Columns (documented in README.md, "Features file"):
  path str, label str|null, subject str, status str (ok | no_face | unreadable | error | skipped), error str|null,
  width int32, height int32, n_faces int16, face int16 (0 = largest),
  landmarks list<float32>[1434] (x, y, z per point), blendshapes list<float32>[52],
  transform list<float32>[16] (row-major), bbox list<float32>[4] (x0, y0, x1, y1 pixels),
  size int64, mtime_ns int64, landmarker str (sha256 of the model that made the row),
  mirror_landmarks, mirror_blendshapes, mirror_transform (the same face meshed in the mirrored image, in its
  coordinates; null where that pass missed it, and in files of emotui before 0.9; how they were made is the
  file's emotui.mirror_view mark),
  appearance list<float32>[900] (emotui.data.appearance: HOG of the face's aligned crop; null in older files),
  crop binary[2304] (that crop itself, 48 x 48 grey bytes row by row; null in files of emotui before 0.10)
plus any extra per-subject columns a dataset brings (e.g. emotions.csv's gender, age, country).
"""

from __future__ import annotations

import pyarrow as pa

# skipped: an entry of the dataset that is not a regular file (a FIFO, a socket, a folder named like an image), its
# reason in `error`; never opened
STATUSES = ("ok", "no_face", "unreadable", "error", "skipped")
# How a face's mirror view was made (emotui.data.mirror): from its one detection, by a second detection of the
# mirrored image, or not at all. Every features file says which (emotui.data.features_file.mirror_views).
MIRROR_VIEWS = ("derive", "detect", "off")
SCHEMA_VERSION = 1

BASE_FIELDS = [
    pa.field("path", pa.string()),
    pa.field("label", pa.string()),
    pa.field("subject", pa.string()),
    pa.field("status", pa.string()),
    pa.field("error", pa.string()),
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("n_faces", pa.int16()),
    pa.field("face", pa.int16()),
    pa.field("landmarks", pa.list_(pa.float32())),
    pa.field("blendshapes", pa.list_(pa.float32())),
    pa.field("transform", pa.list_(pa.float32())),
    pa.field("bbox", pa.list_(pa.float32())),
    pa.field("size", pa.int64()),
    pa.field("mtime_ns", pa.int64()),
    pa.field("landmarker", pa.string()),
    pa.field("mirror_landmarks", pa.list_(pa.float32())),
    pa.field("mirror_blendshapes", pa.list_(pa.float32())),
    pa.field("mirror_transform", pa.list_(pa.float32())),
    pa.field("appearance", pa.list_(pa.float32())),
    pa.field("crop", pa.binary()),
]
# Columns a features file of an older emotui lacks: read as null (no mirror view, no appearance), never as a
# foreign file.
OPTIONAL_COLUMNS = ("mirror_landmarks", "mirror_blendshapes", "mirror_transform", "appearance", "crop")
# Per face, in the order of Detected.faces' tuples.
FACE_COLUMNS = ("landmarks", "blendshapes", "transform", "bbox", *OPTIONAL_COLUMNS)
BASE_SCHEMA = pa.schema(BASE_FIELDS, metadata={b"emotui.features": str(SCHEMA_VERSION).encode()})
