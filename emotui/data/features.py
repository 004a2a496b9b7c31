"""Model inputs from MediaPipe faces: head pose removed, centred and scaled landmarks; blendshapes; augmentation.

Feature spec (FEATURE_SPEC_VERSION, stored in every checkpoint):
  points (478, 3) float32: MediaPipe's normalised landmarks taken to one pixel-like frame (x * width,
      -y * height, -z * width; z shares x's scale), centred on their mean, rotated into the canonical face frame
      with the inverse (transpose) of the facial transformation matrix's rotation, and divided by their RMS
      radius. Translation and scale of the matrix are not needed because of the centring and scaling.
  blendshapes (52,) float32 in BLENDSHAPE_NAMES order.
  reference: the same two arrays averaged over the person's own faces (person_references), when at least
      REFERENCE_MIN_FACES of them are known; the model sees each face both against the average face and against
      its person's reference, so face shape (identity) drops out where a person is known. Labels are never used.
The model itself subtracts the training set's mean face and divides by its spread (stored as buffers).

numpy only here; the torch augmentation functions import torch lazily.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .appearance import APPEARANCE_WIDTHS, N_HOG, N_PIXELS, appearance_mirror_map, joined_appearance
from ..errors import DatasetError
from ..labels import CLASSES, normalize_label
from .landmarker import BLENDSHAPE_NAMES, N_LANDMARKS, sha256_of
from .mirror import BLENDSHAPE_MIRROR

FEATURE_SPEC_VERSION = 2
REFERENCE_MIN_FACES = 3
N_BLENDSHAPES = len(BLENDSHAPE_NAMES)


# ---------------------------------------------------------------- pose removal

def canonical_points(landmarks: np.ndarray, transforms: np.ndarray, aspect: np.ndarray | float = 1.0) -> np.ndarray:
    """(n, 478, 3) normalised landmarks + (n, 4, 4) pose matrices -> (n, 478, 3) pose-free, centred, unit-RMS points.

    `aspect` is height / width of each source image: MediaPipe normalises x by the width and y by the height,
    so a non-square image must be put back into square pixels before a rotation means anything.
    """
    lm = np.asarray(landmarks, dtype=np.float32).reshape(-1, N_LANDMARKS, 3)
    rot = np.asarray(transforms, dtype=np.float32).reshape(-1, 4, 4)[:, :3, :3]
    aspect = np.broadcast_to(np.asarray(aspect, dtype=np.float32).reshape(-1), (lm.shape[0],))
    # Image axes point right/down/away; the matrix's camera frame points right/up/towards the viewer.
    pts = np.stack([lm[..., 0], -lm[..., 1] * aspect[:, None], -lm[..., 2]], axis=-1)
    pts -= pts.mean(axis=1, keepdims=True)
    pts = np.einsum("nji,npj->npi", rot, pts)  # R^T p: camera frame -> canonical face frame
    radius = np.sqrt((pts**2).sum(-1).mean(-1))
    pts /= np.maximum(radius, 1e-8)[:, None, None]
    return pts.astype(np.float32, copy=False)


def face_aspect(face) -> float:  # noqa: ANN001 - emotui.data.landmarker.Face
    """height / width of the image a Face came from, recovered from its pixel bbox and normalised landmarks."""
    lm = np.clip(face.landmarks[:, :2], 0.0, 1.0)
    span = lm.max(axis=0) - lm.min(axis=0)
    x0, y0, x1, y1 = face.bbox
    if span[0] <= 1e-6 or span[1] <= 1e-6 or x1 <= x0:
        return 1.0
    width = (x1 - x0) / span[0]
    height = (y1 - y0) / span[1]
    return float(height / width)


def face_inputs(faces: list) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Landmarker faces -> (points, blendshapes, views): face_arrays of the faces, and of their mirror views as
    (points, blendshapes, has_view) with zeros where a face has none. One pass over faces and views together:
    per face, the array work costs about what the classifier does. A view's appearance is its face's, mirrored."""
    n = len(faces)
    has = np.array([f.mirror_view is not None for f in faces], dtype=bool)
    points, blend = _mesh_arrays(list(faces) + [f.mirror_view for f in faces if f.mirror_view is not None])
    view_points = np.zeros((n, N_LANDMARKS, 3), np.float32)
    view_blend = np.zeros((n, N_BLENDSHAPES), np.float32)
    view_points[has], view_blend[has] = points[n:], blend[n:]
    blend = blend[:n]
    appearance = _appearance_of(faces)
    if appearance is not None:
        blend, view_blend = with_appearance(blend, appearance), with_appearance(view_blend, appearance, mirrored=True)
    return points[:n], blend, (view_points, view_blend, has)


def face_arrays(faces: list) -> tuple[np.ndarray, np.ndarray]:
    """Faces from the Landmarker -> (points (n, 478, 3), descriptors (n, 52 [+ N_APPEARANCE])) in the feature
    spec: the blendshapes, then the appearance where every face has one."""
    points, blend = _mesh_arrays(faces)
    appearance = _appearance_of(faces)
    return points, blend if appearance is None else with_appearance(blend, appearance)


def _mesh_arrays(faces: list) -> tuple[np.ndarray, np.ndarray]:
    if not faces:
        return np.zeros((0, N_LANDMARKS, 3), np.float32), np.zeros((0, N_BLENDSHAPES), np.float32)
    lms = np.stack([f.landmarks for f in faces])
    tfs = np.stack([f.transform for f in faces])
    aspect = np.array([face_aspect(f) for f in faces], dtype=np.float32)
    blend = np.stack([f.blendshapes for f in faces]).astype(np.float32)
    return canonical_points(lms, tfs, aspect), blend


def _appearance_of(faces: list) -> np.ndarray | None:
    if not faces or any(getattr(f, "appearance", None) is None for f in faces):
        return None
    return np.stack([f.appearance for f in faces]).astype(np.float32, copy=False)


def with_appearance(blend: np.ndarray, appearance: np.ndarray, mirrored: bool = False) -> np.ndarray:
    """Blendshapes (n, 52) and appearance (n, N_APPEARANCE) -> the descriptors (n, 52 + N_APPEARANCE) the model
    reads; `mirrored` gives those of the mirror image (for a face's mirror view, whose crop is the mirrored one)."""
    if mirrored:
        appearance = appearance[:, appearance_mirror_map(appearance.shape[1])]
    return np.hstack([blend, appearance]).astype(np.float32, copy=False)


# ---------------------------------------------------------------- mirror symmetry

def mirror_map(mean_points: np.ndarray) -> np.ndarray:
    """Index of each landmark's left/right twin, found by mirroring the mean canonical face across x = 0.

    Each point is matched to the nearest point of the mirrored face (midline points match themselves). Pairs
    are then made symmetric: where the nearest-neighbour match is not mutual, the mutual one wins.
    """
    pts = np.asarray(mean_points, dtype=np.float64)
    mirrored = pts * np.array([-1.0, 1.0, 1.0])
    dist = ((mirrored[:, None, :] - pts[None, :, :]) ** 2).sum(-1)  # 478 x 478: small enough to do directly
    idx = dist.argmin(axis=1).astype(np.int64)
    for i, j in enumerate(idx):
        if idx[j] != i:  # not mutual: keep the pair that is, leave this point on itself
            idx[i] = i if idx[idx[i]] != i else idx[i]
    return idx


def blendshape_mirror_map(width: int = N_BLENDSHAPES) -> np.ndarray:
    """Index permutation that swaps every ...Left blendshape with its ...Right twin, by name; for descriptors
    `width` wide (blendshapes then appearance) the appearance's own mirror map follows."""
    out = BLENDSHAPE_MIRROR.copy()
    if width == N_BLENDSHAPES:
        return out
    if width - N_BLENDSHAPES not in APPEARANCE_WIDTHS:
        wide = ", ".join(str(N_BLENDSHAPES + w) for w in (0, *APPEARANCE_WIDTHS))
        raise ValueError(f"descriptors are {wide} wide, not {width}")
    return np.concatenate([out, N_BLENDSHAPES + appearance_mirror_map(width - N_BLENDSHAPES)])


# ---------------------------------------------------------------- person references

def person_references(points: np.ndarray, blend: np.ndarray, subjects: np.ndarray,
                      min_faces: int = REFERENCE_MIN_FACES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each face's person reference: the mean of all that person's faces (labels unused), where the person has
    at least `min_faces`; -> (ref_points, ref_blend, has_ref). Rows without one hold zeros and has_ref False."""
    names, inverse, counts = np.unique(subjects.astype(str), return_inverse=True, return_counts=True)
    sums_p = np.zeros((len(names),) + points.shape[1:], dtype=np.float64)
    sums_b = np.zeros((len(names),) + blend.shape[1:], dtype=np.float64)
    np.add.at(sums_p, inverse, points)
    np.add.at(sums_b, inverse, blend)
    has_ref = counts[inverse] >= min_faces
    ref_p = (sums_p / counts[:, None, None])[inverse].astype(np.float32)
    ref_b = (sums_b / counts[:, None])[inverse].astype(np.float32)
    ref_p[~has_ref], ref_b[~has_ref] = 0.0, 0.0
    return ref_p, ref_b, has_ref


class ReferenceTracker:
    """Running person references for a live source: the mean face of each track so far (the monitor's
    calibration). `references(track_ids, points, blend)` adds the faces, then returns their references."""

    def __init__(self, min_faces: int = REFERENCE_MIN_FACES) -> None:
        self.min_faces = min_faces
        self._sums: dict[int, list] = {}

    def references(self, track_ids: list[int], points: np.ndarray, blend: np.ndarray):  # noqa: ANN201
        ref_p, ref_b = np.zeros_like(points), np.zeros_like(blend)
        has_ref = np.zeros(len(track_ids), dtype=bool)
        for i, track in enumerate(track_ids):
            entry = self._sums.setdefault(track, [np.zeros(points.shape[1:]), np.zeros(blend.shape[1:]), 0])
            entry[0] += points[i]
            entry[1] += blend[i]
            entry[2] += 1
            if entry[2] >= self.min_faces:
                ref_p[i], ref_b[i], has_ref[i] = entry[0] / entry[2], entry[1] / entry[2], True
        return ref_p, ref_b, has_ref

    def forget(self, track_ids) -> None:  # noqa: ANN001
        for track in track_ids:
            self._sums.pop(track, None)


# ---------------------------------------------------------------- feature files

@dataclass
class FeatureSet:
    """Faces ready for the model, with their labels and persons. Subjects are prefixed by their file's stem."""

    points: np.ndarray  # (n, 478, 3) float32
    blendshapes: np.ndarray  # (n, 52 [+ N_APPEARANCE]) float32: the blendshapes, then the appearance where known
    labels: np.ndarray  # (n,) int64 index into CLASSES
    subjects: np.ndarray  # (n,) object
    paths: np.ndarray  # (n,) object
    sources: list[dict]  # per file: path, sha256, rows, ok, skipped
    ref_points: np.ndarray | None = None  # (n, 478, 3) person references, see person_references
    ref_blend: np.ndarray | None = None  # (n, 52)
    has_ref: np.ndarray | None = None  # (n,) bool
    targets: np.ndarray | None = None  # (n, 8) float32 label distribution: rater votes where known, else one-hot
    datasets: np.ndarray | None = None  # (n,) object: the stem of the file each face came from
    held_out: np.ndarray | None = None  # (n,) bool: the dataset's own validation/test rows, never trained on
    view_points: np.ndarray | None = None  # (n, 478, 3) the face meshed in the mirrored image (Face.mirror_view)
    view_blend: np.ndarray | None = None  # (n, like blendshapes)
    has_view: np.ndarray | None = None  # (n,) bool: False for zeros (that pass missed the face, or an older file)
    rendered: np.ndarray | None = None  # (n,) bool: a copy made by `emotui degrade`, not a camera's own image

    def __post_init__(self) -> None:
        if self.has_ref is None:
            self.ref_points, self.ref_blend, self.has_ref = person_references(self.points, self.blendshapes, self.subjects)
        if self.targets is None:
            self.targets = np.eye(len(CLASSES), dtype=np.float32)[self.labels]
        if self.datasets is None:
            self.datasets = np.array([str(s).split("/", 1)[0] for s in self.subjects], dtype=object)
        if self.held_out is None:
            self.held_out = np.zeros(len(self.labels), dtype=bool)
        if self.has_view is None:
            self.view_points, self.view_blend = np.zeros_like(self.points), np.zeros_like(self.blendshapes)
            self.has_view = np.zeros(len(self.labels), dtype=bool)
        if self.rendered is None:
            self.rendered = np.zeros(len(self.labels), dtype=bool)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: np.ndarray) -> FeatureSet:
        return FeatureSet(self.points[idx], self.blendshapes[idx], self.labels[idx], self.subjects[idx],
                          self.paths[idx], self.sources, self.ref_points[idx], self.ref_blend[idx], self.has_ref[idx],
                          self.targets[idx], self.datasets[idx], self.held_out[idx], self.view_points[idx],
                          self.view_blend[idx], self.has_view[idx], self.rendered[idx])

    def without_appearance(self) -> FeatureSet:
        """The same faces described by their landmarks and blendshapes alone."""
        return self.cut_to(N_BLENDSHAPES)

    def without_pixels(self) -> FeatureSet:
        """The same faces without their crops' pixels (the appearance's HOG kept), for models that do not read them."""
        return self.cut_to(min(self.blendshapes.shape[1], N_BLENDSHAPES + N_HOG))

    def cut_to(self, width: int) -> FeatureSet:
        cut = {name: getattr(self, name)[:, :width] for name in ("blendshapes", "ref_blend", "view_blend")}
        return dataclasses.replace(self, **cut)

    def with_view_rows(self, idx: np.ndarray, point_mirror: np.ndarray, blend_mirror: np.ndarray) -> FeatureSet:
        """The faces at idx, then each one's mirror view as one more face of the same person and label: a second,
        partly independent reading of the same expression, which training uses as data. The view is of the
        mirrored image, so its person reference is mirrored with it."""
        base = self.subset(idx)
        views = base.subset(np.flatnonzero(base.has_view))
        flip = np.array([-1.0, 1.0, 1.0], dtype=np.float32)
        views = FeatureSet(views.view_points, views.view_blend, views.labels, views.subjects, views.paths,
                           self.sources, views.ref_points[:, point_mirror] * flip, views.ref_blend[:, blend_mirror],
                           views.has_ref, views.targets, views.datasets, views.held_out, rendered=views.rendered)
        return concatenate([base, views])


def concatenate(sets: list[FeatureSet]) -> FeatureSet:
    names = [f.name for f in dataclasses.fields(FeatureSet) if f.name != "sources"]
    joined = {name: np.concatenate([getattr(s, name) for s in sets]) for name in names}
    return FeatureSet(**joined, sources=sets[0].sources)


def features_mirror_views(path: Path, df) -> tuple[str, ...]:  # noqa: ANN001 - its table, read_feature_table's
    """How the mirror views of a features file were made (emotui.data.features_file.mirror_views): a model records
    it per file it was trained on; files from before the mark read as what they are, never refused."""
    import pyarrow.parquet as pq

    from .features_file import mirror_views

    try:
        meta = pq.read_schema(path).metadata
    except Exception:  # noqa: BLE001 - read_feature_table has read it; a file replaced since reads as unmarked
        meta = None
    return mirror_views(meta, lambda: "mirror_landmarks" in df.columns and df["mirror_landmarks"].notna().any())


def read_feature_table(path: Path):  # noqa: ANN201 - pandas.DataFrame
    import pandas as pd

    from .features_file import check_features_file

    path = Path(path)
    check_features_file(path)  # missing, never merged, or incomplete (a warning with the counts)
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise DatasetError(f"not a readable features file: {path} ({type(exc).__name__})") from None
    missing = {"label", "subject", "status", "landmarks", "blendshapes", "transform", "width", "height"} - set(df.columns)
    if missing:
        raise DatasetError(f"{path} is not an emotui features file (missing columns: {', '.join(sorted(missing))})")
    if "face" in df.columns:  # one face per image: the largest (face 0) or the no-face row
        df = df[df["face"].isna() | (df["face"] == 0)]
    _check_face_arrays(df, path)
    return df.reset_index(drop=True)


# Values per face each array column must hold (MediaPipe's 478 landmarks x 3, 52 blendshapes, a 4x4 matrix).
_ARRAY_SIZES = {"landmarks": N_LANDMARKS * 3, "blendshapes": len(BLENDSHAPE_NAMES), "transform": 16}


def _check_face_arrays(df, path: Path) -> None:  # noqa: ANN001 - pandas.DataFrame
    """A file written by something else (or damaged) must fail here, naming the file, not deep inside numpy."""
    ok = df[df["status"] == "ok"]
    for column, size in _ARRAY_SIZES.items():
        lengths = ok[column].map(lambda v: len(v) if hasattr(v, "__len__") and not isinstance(v, str) else -1)
        bad = lengths != size
        if bad.any():
            found = sorted(set(lengths[bad].tolist()))
            shown = ", ".join("none" if n < 0 else str(n) for n in found[:3])
            raise DatasetError(f"{path} is not a usable features file: {int(bad.sum())} face row(s) whose "
                               f"{column} hold {shown} values instead of {size}")


def table_arrays(df, prefix: str = "") -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Rows with status ok of a features table -> (points, blendshapes) in the feature spec (of the mirror views
    with prefix "mirror_", for rows that have one)."""
    lms = np.stack(df[prefix + "landmarks"].to_numpy()).astype(np.float32)
    tfs = np.stack(df[prefix + "transform"].to_numpy()).astype(np.float32)
    aspect = (df["height"].to_numpy(np.float32) / np.maximum(df["width"].to_numpy(np.float32), 1.0))
    blend = np.stack(df[prefix + "blendshapes"].to_numpy()).astype(np.float32)
    return canonical_points(lms, tfs, aspect), blend


def table_views(df) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: ANN001
    """Rows with status ok -> their mirror views (points, blendshapes, has_view); zeros where there is none (the
    mirrored pass missed the face, the view is damaged, or the file is from an older emotui)."""
    n = len(df)
    points, blend = np.zeros((n, N_LANDMARKS, 3), np.float32), np.zeros((n, N_BLENDSHAPES), np.float32)
    if "mirror_landmarks" not in df.columns:
        return points, blend, np.zeros(n, dtype=bool)
    sized = lambda column, size: df[column].map(  # noqa: E731
        lambda v: v is not None and not isinstance(v, str) and hasattr(v, "__len__") and len(v) == size).to_numpy(bool)
    has = (sized("mirror_landmarks", N_LANDMARKS * 3) & sized("mirror_blendshapes", N_BLENDSHAPES)
           & sized("mirror_transform", 16))
    if has.any():
        points[has], blend[has] = table_arrays(df[has], "mirror_")
        finite = np.isfinite(points).all((1, 2)) & np.isfinite(blend).all(1)
        points[~finite], blend[~finite], has = 0.0, 0.0, has & finite
    return points, blend, has


def table_appearance(df) -> np.ndarray | None:  # noqa: ANN001
    """Rows with status ok -> their (n, N_HOG [+ N_PIXELS]) appearance, or None unless every row has a finite one
    (a file of an older emotui, or rows kept from one: the descriptors are then the blendshapes alone). The crop's
    pixels follow the HOG where every row has them (files of appearance version 2)."""
    if "appearance" not in df.columns or df.empty or not _all_sized(df["appearance"], N_HOG):
        return None
    hog = np.stack(df["appearance"].to_numpy()).astype(np.float32)
    if not np.isfinite(hog).all():
        return None
    crops = None
    if "crop" in df.columns and _all_sized(df["crop"], N_PIXELS):
        crops = np.frombuffer(b"".join(df["crop"].to_numpy()), dtype=np.uint8).reshape(len(df), N_PIXELS)
    return joined_appearance(hog, crops)


def _all_sized(column, width: int) -> bool:  # noqa: ANN001 - pandas.Series
    return bool(column.map(lambda v: v is not None and hasattr(v, "__len__") and not isinstance(v, str)
                           and len(v) == width).all())


def table_inputs(df, appearance: bool = True):  # noqa: ANN001, ANN201
    """Rows with status ok -> (points, descriptors, views) as face_inputs gives them for live faces; the
    descriptors carry the appearance where table_appearance finds it and `appearance` asks for it."""
    points, blend = table_arrays(df)
    views = table_views(df)
    found = table_appearance(df) if appearance else None
    if found is not None:
        blend = with_appearance(blend, found)
        views = (views[0], with_appearance(views[1], found, mirrored=True), views[2])
    return points, blend, views


def table_subjects(df):  # noqa: ANN001, ANN201 - pandas
    """The person of each row; an image without a person id is its own person (the best a split, or a
    reference, can do without one)."""
    return df["subject"].where(df["subject"].notna() & (df["subject"].astype(str) != ""), df["path"])


def persons_in(subjects: np.ndarray, paths: np.ndarray) -> tuple[int, int]:
    """The persons with an id among these rows, and the rows without one. FeatureSet's subjects are
    "<file>/<subject>"; a row without an id is its own person, named by its path (table_subjects), its relative
    path without suffix (a folder dataset without a manifest) or its file's stem (FER+'s manifest)."""
    def anonymous(subject: str, path: str) -> bool:
        own = subject.split("/", 1)[-1]
        return own == path or own.rsplit("/", 1)[-1] == Path(path).stem

    no_id = np.array([anonymous(str(s), str(p)) for s, p in zip(subjects, paths)], dtype=bool)
    return len(set(subjects[~no_id])), int(no_id.sum())


# A manifest's split names for the rows a dataset keeps for judging models (FER+ calls its validation part valid).
HELD_OUT_SPLITS = frozenset({"valid", "validation", "val", "test", "publictest", "privatetest"})


def vote_targets(df) -> np.ndarray | None:  # noqa: ANN001
    """(n, 8) label distributions from `v_<class>` rater-vote columns (FER+), or None without them.

    Votes for "unknown" and "not a face" are left out: the distribution is over the 8 expressions. Negative or
    non-finite votes, or rows whose expression votes sum to zero, are a DatasetError: they have no distribution.
    """
    columns = [f"v_{c}" for c in CLASSES]
    if not set(columns) <= set(df.columns):
        return None
    import pandas as pd

    votes = df[columns].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(votes).all(1) | (votes < 0).any(1) | (votes.sum(1) <= 0)
    if bad.any():
        first = df["path"].iloc[int(np.flatnonzero(bad)[0])]
        raise DatasetError(f"{int(bad.sum())} rows have vote columns (v_*) that are negative, missing or all zero "
                           f"(first: {first})")
    return (votes / votes.sum(1, keepdims=True)).astype(np.float32)


def dataset_name(path: Path, df, paths: list[Path]) -> str:  # noqa: ANN001 - pandas.DataFrame
    """The name a file's faces and persons go by: its stem; for renderings of a dataset (`emotui degrade`: rows
    naming their `source` image and its `source_key` in that dataset), the dataset's, and the stem of its own
    features file where one is loaded beside them (`ckplus48` or `ckplus48-<hash>`). The same persons, other
    cameras: splits keep a person's renderings with the person, and the dataset's weight counts them once."""
    if not {"source", "source_key", "render_face_px"} <= set(df.columns) or df.empty:
        return path.stem
    source, key = str(df["source"].iloc[0]), str(df["source_key"].iloc[0])
    if not (key and source.endswith(key)):
        return path.stem
    origin = Path(source[: -len(key)]).name
    for other in paths:
        stem = Path(other).stem
        if Path(other) != path and (stem == origin or stem.startswith(origin + "-")) and "-renders" not in stem:
            return stem
    return origin


def load_features(paths: list[Path], on_warning=None) -> FeatureSet:  # noqa: ANN001
    """Read one or more features files; keep faces with a known label and finite features. Raises DatasetError
    when none are usable. `on_warning(text)` hears of rows dropped for non-finite features."""
    parts, sources, holders = [], [], []  # holders: the file each part came from
    for path in paths:
        path = Path(path)
        df = read_feature_table(path)
        labels = df["label"].map(lambda v: normalize_label(v) if isinstance(v, str) else None)
        keep = (df["status"] == "ok") & labels.notna()
        ok = df[keep]
        name = dataset_name(path, df, paths)
        source = {"path": str(path), "name": name, "sha256": sha256_of(path), "rows": int(len(df)),
                  "used": int(keep.sum()), "skipped": int((~keep).sum()), "labelled_images": int(labels.notna().sum())}
        source["mirror_view"] = "+".join(features_mirror_views(path, df))
        if "split" in df.columns:  # images kept for judging, faces found or not (a missed face counts as wrong)
            held_rows = df["split"].astype(str).str.lower().isin(HELD_OUT_SPLITS) & labels.notna()
            source["held_out_images"] = int(held_rows.sum())
        sources.append(source)
        if ok.empty:
            continue
        points, blend = table_arrays(ok)
        finite = np.isfinite(points).all((1, 2)) & np.isfinite(blend).all(1)
        if not finite.all():
            source["non_finite"] = int((~finite).sum())
            source["used"] -= source["non_finite"]
            if on_warning is not None:
                on_warning(f"{path}: left out {source['non_finite']} faces with non-finite features")
            ok, points, blend = ok[finite], points[finite], blend[finite]
        if ok.empty:
            continue
        views = table_views(ok)
        appearance = table_appearance(ok)
        source["appearance"] = appearance is not None
        if appearance is not None:
            blend = with_appearance(blend, appearance)
            views = (views[0], with_appearance(views[1], appearance, mirrored=True), views[2])
        label_idx = np.array([CLASSES.index(v) for v in labels[keep][finite]], dtype=np.int64)
        targets = vote_targets(ok)
        if targets is None:
            targets = np.eye(len(CLASSES), dtype=np.float32)[label_idx]
        else:
            source["soft_labels"] = True
        split = ok["split"].astype(str).str.lower() if "split" in ok.columns else None
        held = split.isin(HELD_OUT_SPLITS).to_numpy() if split is not None else np.zeros(len(ok), dtype=bool)
        source["held_out"] = int(held.sum())
        subjects = table_subjects(ok)
        holders.append(str(path))
        parts.append((points, blend, label_idx,
                      np.array([f"{name}/{s}" for s in subjects.astype(str)], dtype=object),
                      ok["path"].astype(str).to_numpy(dtype=object), targets,
                      np.full(len(ok), name, dtype=object), held, *views, _rendered(ok)))
    if not parts:
        raise DatasetError("no labelled faces in " + ", ".join(str(p) for p in paths))
    parts = _same_descriptors(parts, holders, sources, on_warning)
    cat = [np.concatenate([p[i] for p in parts]) for i in range(12)]
    return FeatureSet(*cat[:5], sources=sources, targets=cat[5], datasets=cat[6], held_out=cat[7],
                      view_points=cat[8], view_blend=cat[9], has_view=cat[10], rendered=cat[11])


def _rendered(rows) -> np.ndarray:  # noqa: ANN001 - pandas.DataFrame
    """Which rows are renderings (emotui.data.renderings writes their parameters beside them)."""
    if "render_face_px" not in rows.columns:
        return np.zeros(len(rows), dtype=bool)
    return rows["render_face_px"].notna().to_numpy(dtype=bool)


def _same_descriptors(parts: list[tuple], holders: list[str], sources: list[dict],
                      on_warning) -> list[tuple]:  # noqa: ANN001
    """Faces of files with more and less appearance cannot share one model input: then all go with what every
    file holds (the HOG without the crop's pixels, or the blendshapes alone)."""
    widths = {p[1].shape[1] for p in parts}
    if len(widths) == 1:
        return parts
    width = min(widths)
    lacking = [path for path, p in zip(holders, parts) if p[1].shape[1] == width]  # holders[i]: parts[i]'s file
    if on_warning is not None:
        what = "no appearance" if width == N_BLENDSHAPES else "no face crops"
        on_warning(f"{', '.join(lacking)} hold {what} (made by an older emotui): training on what every file holds; "
                   "extract again to use it all")
    for s in sources:
        s["appearance"] = s.get("appearance") and width > N_BLENDSHAPES
    return [(p[0], p[1][:, :width], *p[2:9], p[9][:, :width], *p[10:]) for p in parts]


# ---------------------------------------------------------------- augmentation (torch, batched)

@dataclass(frozen=True)
class Augment:
    mirror: float = 0.5  # probability
    rotate_deg: float = 3.0  # per axis, uniform (6 and 10 lost 1-2 points on unseen FER+ faces)
    scale: float = 0.05  # uniform +-
    jitter: float = 0.002  # gaussian sd, in units of the RMS face radius
    dropout: float = 0.05  # fraction of landmarks reset to the mean face
    blend_jitter: float = 0.02
    identity_swap: float = 0.5  # probability of moving a face onto another person's face shape (see training)
    reference_drop: float = 0.25  # probability of hiding a face's person reference, as for a single photo


def augment_batch(points, blend, mean_points, point_mirror, blend_mirror, aug: Augment, generator=None):  # noqa: ANN001, ANN201
    """Random mirror, rotation, scale, jitter and landmark dropout on a batch of canonical faces (torch tensors)."""
    import torch

    n = points.shape[0]
    g = generator
    flip = torch.rand(n, generator=g) < aug.mirror
    if flip.any():
        mirrored = points[flip][:, point_mirror] * points.new_tensor([-1.0, 1.0, 1.0])
        points = points.clone()
        points[flip] = mirrored
        blend = blend.clone()
        blend[flip] = blend[flip][:, blend_mirror]
    angles = (torch.rand(n, 3, generator=g) * 2 - 1) * (aug.rotate_deg * torch.pi / 180)
    cx, cy, cz = torch.cos(angles).unbind(1)
    sx, sy, sz = torch.sin(angles).unbind(1)
    one, zero = torch.ones_like(cx), torch.zeros_like(cx)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], 1).view(n, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], 1).view(n, 3, 3)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], 1).view(n, 3, 3)
    rot = rz @ ry @ rx
    scale = 1 + (torch.rand(n, 1, 1, generator=g) * 2 - 1) * aug.scale
    points = (points @ rot.transpose(1, 2)) * scale
    points = points + torch.randn(points.shape, generator=g) * aug.jitter
    if aug.dropout > 0:
        drop = torch.rand(points.shape[:2], generator=g) < aug.dropout
        points = torch.where(drop[..., None], mean_points.expand_as(points), points)
    blend = (blend + torch.randn(blend.shape, generator=g) * aug.blend_jitter).clamp(0, 1)
    return points, blend
