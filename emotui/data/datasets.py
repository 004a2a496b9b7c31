"""Finding the labelled images of a dataset: one DataFrame (path, label, subject, ...) whatever the layout.

Layouts, tried in this order:
  kaggle   <root>/images/<set_id>/<Emotion>.<ext> (+ optional <root>/emotions.csv: set_id and per-set columns);
           the set is the subject. <root> may also be the images/ folder itself.
  folders  <root>/[<split>/...]<label>/<image>; a manifest.csv (file,label,subject) beside the class folders
           gives each file its subject and extra columns.
  manifest a CSV file (or <root>/manifest.csv) with path (or file), label and optionally subject columns; paths
           relative to the CSV's folder.
Labels go through emotui.labels.normalize_label. Files whose label is unknown are left out and counted in
`frame.attrs["unknown_labels"]` ({name: files}); nothing is guessed. Symlinked folders are followed (each real
folder once); folders that cannot be listed are left out and named in `frame.attrs["unreadable_folders"]`.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from ..errors import DatasetError
from ..labels import normalize_label

# Everything OpenCV's imdecode reads; other files (notes, CSVs) are ignored.
IMAGE_EXTENSIONS = frozenset(
    ".jpg .jpeg .jpe .png .bmp .dib .webp .tif .tiff .pbm .pgm .ppm .pnm .pxm .jp2 .sr .ras .exr .hdr .pic".split()
)
# Columns the features file owns; a manifest column of the same name is not copied.
RESERVED_COLUMNS = frozenset(
    "path label subject status error width height n_faces face landmarks blendshapes transform bbox size "
    "mtime_ns landmarker".split()
)
_PATH_COLUMNS = ("path", "file", "filename", "image", "img")
_LABEL_COLUMNS = ("label", "emotion", "expression", "class")


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _walk_images(root: Path, unreadable: list[str]) -> list[Path]:
    """Images under root, following symlinked folders; a link back to a folder already seen is not walked again
    (a loop would otherwise never end). Folders that cannot be listed are appended to `unreadable`."""
    found, seen = [], set()
    for folder, dirs, files in os.walk(root, followlinks=True, onerror=lambda exc: unreadable.append(_abs(exc.filename))):
        try:
            info = os.stat(folder)
        except OSError:
            dirs[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(folder) / name for name in sorted(files) if is_image(Path(name)))
    return found


def _abs(path: Path) -> str:
    # abspath, not resolve(): a symlinked dataset keeps the paths the user gave it.
    return os.path.abspath(path)


def discover(path: str | Path):  # noqa: ANN201 (pandas is imported lazily)
    """Return a DataFrame with columns path (absolute), label (one of CLASSES), subject (str), plus extras.

    `frame.attrs` holds "layout", "root" and "unknown_labels". Raises DatasetError when nothing usable is found.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError(f"dataset not found: {root}")
    if root.is_file():
        if root.suffix.lower() != ".csv":
            raise DatasetError(f"{root} is a file but not a CSV manifest (path,label[,subject])")
        return _finish(_from_manifest(root), "manifest", root)
    if not os.access(root, os.R_OK | os.X_OK):
        raise DatasetError(f"cannot read dataset folder: {root}")
    try:
        next(root.iterdir())
    except StopIteration:
        raise DatasetError(f"dataset folder is empty: {root}") from None
    for layout, finder in (("kaggle", _from_kaggle), ("folders", _from_class_folders)):
        rows = finder(root)
        if rows is not None:
            return _finish(rows, layout, root)
    if (root / "manifest.csv").is_file():
        return _finish(_from_manifest(root / "manifest.csv"), "manifest", root)
    raise DatasetError(
        f"no recognisable dataset layout in {root}: expected images/<set_id>/<Emotion>.jpg, "
        f"<label>/<image> class folders, or a CSV manifest with path,label columns"
    )


# ---------------------------------------------------------------- layouts

class _Rows:
    """Rows being collected, plus the unknown labels met on the way."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self.unknown: Counter[str] = Counter()
        self.unreadable: list[str] = []  # folders that could not be listed

    def add(self, path: Path, raw_label: str, subject: str, **extra: object) -> None:
        label = normalize_label(raw_label)
        if label is None:
            self.unknown[str(raw_label)] += 1
            return
        self.records.append({"path": _abs(path), "label": label, "subject": str(subject), **extra})


def _from_kaggle(root: Path) -> _Rows | None:
    images = root / "images"
    pointed_inside = not images.is_dir()
    if pointed_inside:  # DATASET may be the images/ folder itself, with emotions.csv beside it
        images = root
    sets = sorted(d for d in images.iterdir() if d.is_dir() and not d.name.startswith("."))
    # Class folders inside images/ (images/happy/x.jpg) are layout (b), not sets named after emotions.
    if not sets or all(normalize_label(d.name) for d in sets):
        return None
    rows = _Rows()
    for set_dir in sets:
        try:
            images_of_set = sorted(p for p in set_dir.iterdir() if p.is_file() and is_image(p))
        except OSError:
            rows.unreadable.append(_abs(set_dir))
            continue
        for image in images_of_set:
            rows.add(image, image.stem, set_dir.name, set_id=set_dir.name)
    # Inside images/, only files named after expressions make this layout (not any folder of photos).
    if not rows.records and (pointed_inside or not rows.unknown) and not rows.unreadable:
        return None
    meta_path = images.parent / "emotions.csv"
    if meta_path.is_file() and rows.records:
        meta = _read_csv(meta_path)
        if "set_id" in meta.columns:
            # A set listed twice keeps its first row (the index must be unique for the lookup below).
            meta = meta.assign(set_id=meta["set_id"].astype(str).str.strip()).drop_duplicates("set_id")
            meta = meta.set_index(meta["set_id"])
            keep = [c for c in meta.columns if c != "set_id" and c not in RESERVED_COLUMNS]
            for record in rows.records:
                if record["set_id"] in meta.index:
                    record.update(meta.loc[record["set_id"], keep].to_dict())
    return rows


def _from_class_folders(root: Path) -> _Rows | None:
    unreadable: list[str] = []
    files = [p for p in _walk_images(root, unreadable) if p.parent != root]
    if not files:
        if any(normalize_label(Path(folder).name) for folder in unreadable):
            rows = _Rows()  # class folders, none of which could be listed: say so rather than "no layout"
            rows.unreadable = unreadable
            return rows
        return None
    by_folder: dict[Path, list[Path]] = {}
    for image in files:
        by_folder.setdefault(image.parent, []).append(image)
    # A layout of class folders has at least one folder named after an expression.
    if not any(normalize_label(folder.name) for folder in by_folder):
        return None
    manifests = _subject_manifests(root, by_folder)
    rows = _Rows()
    rows.unreadable = unreadable
    for folder, images in by_folder.items():
        split = folder.parent.relative_to(root).as_posix()
        for image in images:
            extra = manifests.get(_abs(image), {})
            # Without a manifest each image stands alone: its own subject (so splits are per image).
            subject = extra.pop("subject", None) or image.relative_to(root).with_suffix("").as_posix()
            if split != ".":
                extra.setdefault("split", split)
            rows.add(image, folder.name, subject, **extra)
    return rows


def _subject_manifests(root: Path, by_folder: dict[Path, list[Path]]) -> dict[str, dict]:
    """manifest.csv files (file,label,subject,...) at the root or in split folders, keyed by absolute path."""
    candidates = {root} | {folder.parent for folder in by_folder}
    found: dict[str, dict] = {}
    for base in sorted(candidates):
        manifest = base / "manifest.csv"
        if not manifest.is_file():
            continue
        frame = _read_csv(manifest)
        path_col = next((c for c in _PATH_COLUMNS if c in frame.columns), None)
        if path_col is None or "subject" not in frame.columns:
            continue
        keep = [c for c in frame.columns if c == "subject" or c not in RESERVED_COLUMNS and c != path_col]
        for record in frame[[path_col, *keep]].to_dict("records"):
            file = record.pop(path_col)
            record["subject"] = _text(record["subject"])
            found[_abs(base / str(file))] = record
    return found


def _from_manifest(csv_path: Path) -> _Rows:
    frame = _read_csv(csv_path)
    path_col = next((c for c in _PATH_COLUMNS if c in frame.columns), None)
    label_col = next((c for c in _LABEL_COLUMNS if c in frame.columns), None)
    if path_col is None or label_col is None:
        raise DatasetError(
            f"{csv_path} is not a manifest: it needs path and label columns (has {', '.join(map(str, frame.columns))})"
        )
    base = csv_path.parent
    extras = [c for c in frame.columns if c not in (path_col, label_col) and c not in RESERVED_COLUMNS]
    rows = _Rows()
    for record in frame.to_dict("records"):
        rel = record[path_col]
        if not isinstance(rel, str) or not rel.strip():
            rows.unknown["(no path)"] += 1
            continue
        image = base / rel.strip()
        subject = _text(record.get("subject")) or Path(rel).with_suffix("").as_posix()
        rows.add(image, _text(record[label_col]), subject, **{c: record[c] for c in extras})
    return rows


# ---------------------------------------------------------------- helpers

def _read_csv(path: Path):  # noqa: ANN202
    import pandas as pd

    try:
        # No NA guessing: JAFFE's subject `NA`, Namibia's country code or a note saying "null" are values; an empty
        # cell stays "" (which every reader here treats as missing).
        return pd.read_csv(path, dtype={"subject": str, "set_id": str, "file": str, "path": str}, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):  # NaN from an empty CSV cell
        return ""
    return str(value).strip()


def _finish(rows: _Rows, layout: str, root: Path):  # noqa: ANN202
    import pandas as pd

    if not rows.records:
        if rows.unreadable:
            raise DatasetError(f"cannot list {len(rows.unreadable)} folder(s) of {root}, e.g. {rows.unreadable[0]}, "
                               "and no other image was found")
        if rows.unknown:
            raise DatasetError(f"no image in {root} has a known expression label; unknown: {describe_unknown(rows.unknown)}")
        raise DatasetError(f"no images found in {root}")
    frame = pd.DataFrame.from_records(rows.records)
    frame = frame.drop_duplicates("path").reset_index(drop=True)
    frame.attrs.update(layout=layout, root=_abs(root), unknown_labels=dict(rows.unknown.most_common()),
                       unreadable_folders=sorted(rows.unreadable))
    return frame


def describe_unknown(unknown: dict[str, int], limit: int = 8) -> str:
    """'Confused (12 files), Bored (3 files)': the unknown labels a dataset brought, most files first."""
    items = sorted(unknown.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{name} ({n} file{'s' if n != 1 else ''})" for name, n in items[:limit])
    if len(items) > limit:
        text += f" and {len(items) - limit} more"
    return text
