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

An entry that is there but is not a regular file (a FIFO, a socket, a device, a folder named like an image) is
never opened (a FIFO would block its reader for ever): it is left out and listed in `frame.attrs["skipped"]`
({path, label, subject, reason}); extraction records each as a row of status `skipped`. Manifest rows are checked as they are read (`frame.attrs["manifest"]`, ManifestCounts):
the same image listed twice with one label is merged; with two labels (or subjects) it is refused in one line
naming the files, or with `drop_conflicts` left out; a path outside the manifest's folder is kept only if it
exists.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import DatasetError
from ..inputs import expand, named, not_regular_reason
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


def _walk_images(root: Path, unreadable: list[str], odd: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Images under root, following symlinked folders; a link back to a folder already seen is not walked again
    (a loop would otherwise never end). Folders that cannot be listed are appended to `unreadable`, image names
    that are not regular files (a FIFO) to `odd` with the reason, instead of being returned."""
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
        for name in sorted({*files, *dirs}):  # a folder named like an image is an entry too (and still walked)
            if not is_image(Path(name)):
                continue
            reason = entry_reason(Path(folder) / name)
            if reason is None:
                found.append(Path(folder) / name)
            elif odd is not None:
                odd.append((Path(folder) / name, reason))
    return found


def entry_reason(path: Path) -> str | None:
    """Why a dataset entry named like an image is skipped (recorded, never opened), or None for a regular file or
    one that is not there (its reader reports it missing): a FIFO, socket, device or folder, or a symlink to
    nothing (it would only ever be read as missing)."""
    reason = not_regular_reason(path)
    if reason is None and os.path.islink(path) and not os.path.exists(path):
        return "a symlink to nothing"
    return reason


def _abs(path: Path) -> str:
    # abspath, not resolve(): a symlinked dataset keeps the paths the user gave it.
    return os.path.abspath(path)


def discover(path: str | Path, *, drop_conflicts: bool = False):  # noqa: ANN201 (pandas is imported lazily)
    """Return a DataFrame with columns path (absolute), label (one of CLASSES), subject (str), plus extras.

    `frame.attrs` holds "layout", "root", "unknown_labels", "unreadable_folders", "skipped" and "manifest".
    Raises DatasetError when nothing usable is found, or when a manifest gives one image two labels (unless
    `drop_conflicts`, which leaves such images out and counts them).
    """
    if not str(path).strip():
        raise DatasetError("no dataset given (an empty path)")  # Path("") would be ".", the current folder
    root = expand(path)
    if not root.exists():
        raise DatasetError(f"dataset not found: {root}")
    reason = not_regular_reason(root)
    if not root.is_dir() and reason:
        raise DatasetError(f"{root} is {reason}: not a dataset folder or CSV manifest")
    if root.is_file():
        if root.suffix.lower() != ".csv":
            raise DatasetError(f"{root} is a file but not a CSV manifest (path,label[,subject])")
        return _finish(_from_manifest(root, drop_conflicts), "manifest", root)
    if not os.access(root, os.R_OK | os.X_OK):
        raise DatasetError(f"cannot read dataset folder: {root}")
    try:
        next(root.iterdir())
    except StopIteration:
        raise DatasetError(f"dataset folder is empty: {root}") from None
    for layout, finder in (("kaggle", _from_kaggle), ("folders", _from_class_folders)):
        rows = finder(root, drop_conflicts)
        if rows is not None:
            return _finish(rows, layout, root)
    if (root / "manifest.csv").is_file():
        return _finish(_from_manifest(root / "manifest.csv", drop_conflicts), "manifest", root)
    raise DatasetError(
        f"no recognisable dataset layout in {root}: expected images/<set_id>/<Emotion>.jpg, "
        f"<label>/<image> class folders, or a CSV manifest with path,label columns"
    )


# ---------------------------------------------------------------- layouts

@dataclass
class ManifestCounts:
    """What the manifests' rows came to, for the summary."""

    rows: int = 0  # rows read
    merged: int = 0  # rows repeating an earlier row of the same image with the same label: merged into it
    conflicts: int = 0  # images listed with two different labels (or subjects)
    left_out: int = 0  # rows of those images, left out (drop_conflicts)
    refused: int = 0  # rows naming a path outside the manifest's folder that does not exist
    outside: int = 0  # rows kept whose path is outside the manifest's folder (they exist)
    refused_paths: list[str] = field(default_factory=list)
    outside_paths: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


class _Rows:
    """Rows being collected, plus the unknown labels met on the way."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self.unknown: Counter[str] = Counter()
        self.unreadable: list[str] = []  # folders that could not be listed
        self.skipped: list[dict] = []  # entries that are not regular files: {path, label, subject, reason}
        self.manifest = ManifestCounts()

    def skip(self, path: Path, raw_label: str, subject: str, reason: str) -> None:
        label = normalize_label(raw_label)
        self.skipped.append({"path": _abs(path), "label": label or str(raw_label), "subject": str(subject),
                             "reason": reason})

    def add(self, path: Path, raw_label: str, subject: str, **extra: object) -> None:
        label = normalize_label(raw_label)
        if label is None:
            self.unknown[str(raw_label)] += 1
            return
        self.records.append({"path": _abs(path), "label": label, "subject": str(subject), **extra})


def _from_kaggle(root: Path, drop_conflicts: bool = False) -> _Rows | None:
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
            images_of_set = sorted(p for p in set_dir.iterdir() if is_image(p))
        except OSError:
            rows.unreadable.append(_abs(set_dir))
            continue
        for image in images_of_set:
            reason = entry_reason(image)
            if reason:  # a FIFO named Happy.jpg: recorded, never opened
                rows.skip(image, image.stem, set_dir.name, reason)
                continue
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


def _from_class_folders(root: Path, drop_conflicts: bool = False) -> _Rows | None:
    unreadable: list[str] = []
    odd: list[tuple[Path, str]] = []
    files = [p for p in _walk_images(root, unreadable, odd) if p.parent != root]
    if not files:
        if any(normalize_label(Path(folder).name) for folder in unreadable) or \
                any(normalize_label(path.parent.name) for path, _ in odd):
            rows = _Rows()  # class folders, none of which could be listed or read: say so rather than "no layout"
            rows.unreadable = unreadable
            for path, reason in odd:
                rows.skip(path, path.parent.name, _own_subject(path, root), reason)
            return rows
        return None
    by_folder: dict[Path, list[Path]] = {}
    for image in files:
        by_folder.setdefault(image.parent, []).append(image)
    # A layout of class folders has at least one folder named after an expression.
    if not any(normalize_label(folder.name) for folder in by_folder):
        return None
    rows = _Rows()
    manifests = _subject_manifests(root, by_folder, rows.manifest, drop_conflicts)
    rows.unreadable = unreadable
    for path, reason in odd:
        if path.parent != root:
            rows.skip(path, path.parent.name, _own_subject(path, root), reason)
    for folder, images in by_folder.items():
        split = folder.parent.relative_to(root).as_posix()
        for image in images:
            if _abs(image) in manifests.dropped:  # listed with two labels, left out (drop_conflicts)
                continue
            extra = dict(manifests.get(_abs(image), {}))
            # Without a manifest each image stands alone: its own subject (so splits are per image).
            subject = extra.pop("subject", None) or _own_subject(image, root)
            if split != ".":
                extra.setdefault("split", split)
            rows.add(image, folder.name, subject, **extra)
    return rows


def _own_subject(image: Path, root: Path) -> str:
    """An image that no manifest names stands alone: its path in the dataset is its subject."""
    return image.relative_to(root).with_suffix("").as_posix()


class _Subjects(dict):
    """Absolute path -> the manifest's columns for it; `dropped` holds the images left out as conflicting."""

    dropped: set[str]


def _subject_manifests(root: Path, by_folder: dict[Path, list[Path]], counts: ManifestCounts,
                       drop_conflicts: bool) -> _Subjects:
    """manifest.csv files (file,label,subject,...) at the root or in split folders, keyed by absolute path."""
    candidates = {root} | {folder.parent for folder in by_folder}
    found = _Subjects()
    found.dropped = set()
    for base in sorted(candidates):
        manifest = base / "manifest.csv"
        if not manifest.is_file():
            continue
        frame = _read_csv(manifest)
        path_col = next((c for c in _PATH_COLUMNS if c in frame.columns), None)
        if path_col is None or "subject" not in frame.columns:
            continue
        label_col = next((c for c in _LABEL_COLUMNS if c in frame.columns), None)
        keep = [c for c in frame.columns if c == "subject" or c not in RESERVED_COLUMNS and c != path_col]
        entries = []
        for record in frame[[path_col, *keep, *([label_col] if label_col else [])]].to_dict("records"):
            file = _text(record.pop(path_col))
            if not file:
                continue
            label = normalize_label(_text(record.pop(label_col))) if label_col else None
            record["subject"] = _text(record["subject"])
            entries.append((_abs(base / file), label, record))
        counts.rows += len(entries)
        kept, dropped = _merge_duplicates(entries, manifest, counts, drop_conflicts)
        found.dropped |= dropped
        found.update((path, record) for path, _, record in kept)
    return found


def _merge_duplicates(entries: list[tuple[str, str | None, dict]], manifest: Path, counts: ManifestCounts,
                      drop_conflicts: bool) -> tuple[list[tuple[str, str | None, dict]], set[str]]:
    """One entry per image. Rows repeating an image with the same label and subject are merged (counted); an image
    given two labels or subjects is refused, naming the files, or with `drop_conflicts` left out (counted)."""
    by_path: dict[str, list[tuple[str, str | None, dict]]] = {}
    for entry in entries:
        by_path.setdefault(entry[0], []).append(entry)
    kept, conflicts = [], {}
    for path, group in by_path.items():
        meanings = {(label, str(record.get("subject", ""))) for _, label, record in group}
        if len(meanings) == 1:
            counts.merged += len(group) - 1
            kept.append(group[0])
        else:
            conflicts[path] = group
    counts.conflicts += len(conflicts)
    if conflicts and not drop_conflicts:
        raise DatasetError(f"{manifest} lists {len(conflicts)} image(s) with two different labels or subjects: "
                           f"{_describe_conflicts(conflicts, manifest.parent)}; fix the manifest, or leave them "
                           "out with `emotui extract --drop-conflicts`")
    counts.left_out += sum(len(group) for group in conflicts.values())
    return kept, set(conflicts)


def _describe_conflicts(conflicts: dict[str, list], base: Path, limit: int = 5) -> str:
    """'happy/a.png (happy, sad), b.png (S1 anger, S2 anger) and 3 more': the files and what they were given."""
    parts = []
    for path, group in list(conflicts.items())[:limit]:
        labels = sorted({str(label) for _, label, _ in group})
        if len(labels) == 1:  # the same label, two subjects
            labels = sorted({f"subject {record.get('subject', '')}" for _, _, record in group})
        parts.append(f"{named(os.path.relpath(path, _abs(base)))} ({', '.join(named(x) for x in labels)})")
    more = f" and {len(conflicts) - limit} more" if len(conflicts) > limit else ""
    return ", ".join(parts) + more


def _from_manifest(csv_path: Path, drop_conflicts: bool = False) -> _Rows:
    frame = _read_csv(csv_path)
    path_col = next((c for c in _PATH_COLUMNS if c in frame.columns), None)
    label_col = next((c for c in _LABEL_COLUMNS if c in frame.columns), None)
    if path_col is None or label_col is None:
        raise DatasetError(
            f"{csv_path} is not a manifest: it needs path and label columns (has {', '.join(map(str, frame.columns))})"
        )
    base = csv_path.parent
    extras = [c for c in frame.columns if c not in (path_col, label_col) and c not in RESERVED_COLUMNS]
    rows, entries = _Rows(), []
    for record in frame.to_dict("records"):
        rel = record[path_col]
        if not isinstance(rel, str) or not rel.strip():
            rows.unknown["(no path)"] += 1
            continue
        raw_label = _text(record[label_col])
        label = normalize_label(raw_label)
        if label is None:
            rows.unknown[raw_label] += 1
            continue
        subject = _text(record.get("subject")) or _stem_path(rel.strip())
        entries.append((_abs(base / rel.strip()), label,
                        {"subject": subject, "raw": raw_label, **{c: record[c] for c in extras}}))
    rows.manifest.rows = len(entries)
    kept, _ = _merge_duplicates(entries, csv_path, rows.manifest, drop_conflicts)
    for path, _, record in kept:
        if not _within_checked(Path(path), base, rows):
            continue
        raw = record.pop("raw")
        reason = entry_reason(Path(path))
        if reason:  # a FIFO, a folder: never opened
            rows.skip(Path(path), raw, record["subject"], reason)
            continue
        rows.add(Path(path), raw, record.pop("subject"), **record)
    return rows


def _within_checked(path: Path, base: Path, rows: _Rows) -> bool:
    """Whether a manifest row's path may be used: inside the manifest's folder, or outside it and there (then
    counted as outside). A path outside that does not exist is refused and counted: `../` typos and paths from
    another machine are said, not recorded as thousands of unreadable images."""
    try:
        real, folder = os.path.realpath(path), os.path.realpath(base)
    except (OSError, ValueError):  # a NUL byte, a name too long: no file can have it
        real, folder = None, None
    if real is not None and os.path.commonpath([real, folder]) == folder:
        return True
    if real is not None and os.path.exists(path):
        rows.manifest.outside += 1
        rows.manifest.outside_paths.append(str(path))
        return True
    rows.manifest.refused += 1
    rows.manifest.refused_paths.append(str(path))
    return False


# ---------------------------------------------------------------- helpers

def _read_csv(path: Path):  # noqa: ANN202
    import pandas as pd

    try:
        # No NA guessing: JAFFE's subject `NA`, Namibia's country code or a note saying "null" are values; an empty
        # cell stays "" (which every reader here treats as missing).
        return pd.read_csv(path, dtype={"subject": str, "set_id": str, "file": str, "path": str}, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None


def _stem_path(rel: str) -> str:
    """`happy/a.png` -> `happy/a`, an image's own subject; a path with no name (`/`, `..`) stays as written."""
    try:
        return Path(rel).with_suffix("").as_posix()
    except ValueError:
        return rel


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
        if rows.skipped:
            first = rows.skipped[0]
            raise DatasetError(f"no image in {root} is a regular file: {len(rows.skipped)} skipped, e.g. "
                               f"{first['path']} ({first['reason']})")
        raise DatasetError(f"no images found in {root}")
    frame = pd.DataFrame.from_records(rows.records)
    frame = frame.drop_duplicates("path").reset_index(drop=True)
    frame.attrs.update(layout=layout, root=_abs(root), unknown_labels=dict(rows.unknown.most_common()),
                       unreadable_folders=sorted(rows.unreadable), skipped=rows.skipped,
                       manifest=rows.manifest.as_dict())
    return frame


def describe_unknown(unknown: dict[str, int], limit: int = 8) -> str:
    """'Confused (12 files), Bored (3 files)': the unknown labels a dataset brought, most files first."""
    items = sorted(unknown.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{named(name)} ({n} file{'s' if n != 1 else ''})" for name, n in items[:limit])
    if len(items) > limit:
        text += f" and {len(items) - limit} more"
    return text
