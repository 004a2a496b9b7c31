"""Whether a features file is whole: the completeness marks `emotui extract` writes into its Parquet key-value
metadata, and the check every reader makes before using one.

An extraction stopped by Ctrl-C (or a crash) still merges what it finished into FILE, so that the next run resumes;
such a file is marked emotui.complete=false with the images expected and done. A reader warns (on stderr, with
the counts) rather than refusing: the rows it holds are sound and training on part of a dataset can be what the
user wants; what must not happen is using 32 of 1,556 images without a word.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetError

COMPLETE = b"emotui.complete"
EXPECTED = b"emotui.images_expected"
DONE = b"emotui.images_done"
DATASET = b"emotui.dataset"
MIRROR_VIEW = b"emotui.mirror_view"  # the kinds of mirror view its rows have, "+"-joined (schema.MIRROR_VIEWS)


# What reading a damaged or foreign Parquet file raises besides ArrowException: OSError, a UnicodeDecodeError from
# its key-value metadata, a KeyError or TypeError from columns of another type (found by
# tests/test_properties_readers.py). These readers document None for such a file.
_UNREADABLE = (Exception,)


def parts_dir(out: Path) -> Path:
    """Where an extraction into `out` keeps its finished batches until they are merged."""
    return out.with_name(out.name + ".parts")


def dataset_metadata(dataset: str | None, expected: int) -> dict[bytes, bytes]:
    meta = {EXPECTED: str(expected).encode()}
    if dataset:
        meta[DATASET] = dataset.encode()
    return meta


def completeness_metadata(dataset: str | None, expected: int, done: int) -> dict[bytes, bytes]:
    return {**dataset_metadata(dataset, expected), DONE: str(done).encode(),
            COMPLETE: b"true" if done >= expected else b"false"}


def mirror_view_mark(kinds) -> dict[bytes, bytes]:  # noqa: ANN001 - an iterable of MIRROR_VIEWS
    from .schema import MIRROR_VIEWS

    return {MIRROR_VIEW: "+".join(k for k in MIRROR_VIEWS if k in set(kinds)).encode()}


def mirror_views(meta: dict | None, has_view) -> tuple[str, ...]:  # noqa: ANN001 - () -> bool
    """The kinds of mirror view in a features file of schema metadata `meta`: what its extraction marked (several
    after runs resumed in other modes), or, in a file from before the mark, what that emotui made: a second
    detection where `has_view()` says some row has a view, none where none has (it never derived one). The mark
    is the file's, not each row's: a kind whose rows a later run dropped stays in it until the file is remade."""
    from .schema import MIRROR_VIEWS

    mark = (meta or {}).get(MIRROR_VIEW)
    if mark is not None:
        kinds = tuple(k for k in mark.decode(errors="replace").split("+") if k in MIRROR_VIEWS)
        if kinds:
            return kinds
    return ("detect",) if has_view() else ("off",)


@dataclass(frozen=True)
class Completeness:
    complete: bool
    expected: int | None
    done: int | None
    dataset: str | None


def completeness(path: Path) -> Completeness | None:
    """The marks of a features file; None when it has none (written by hand or an older emotui) or is unreadable
    (the caller's own read reports that)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except _UNREADABLE:
        return None
    if COMPLETE not in meta:
        return None

    def number(key: bytes) -> int | None:
        try:
            return int(meta[key])
        except (KeyError, ValueError):
            return None

    dataset = meta[DATASET].decode(errors="replace") if DATASET in meta else None
    return Completeness(meta[COMPLETE] == b"true", number(EXPECTED), number(DONE), dataset)


def _again(path: Path, dataset: str | None) -> str:
    return f"emotui extract {shlex.quote(dataset) if dataset else 'DATASET'} --out {shlex.quote(str(path))}"


def check_features_file(path: Path) -> Completeness | None:
    """Before reading a features file: a missing one, or one whose extraction never got to merge (only its parts
    folder exists), is a DatasetError saying which; an incomplete one gets a warning on stderr with the counts."""
    path = Path(path)
    if not path.is_file():
        parts = parts_dir(path)
        if parts.is_dir():
            first = sorted(parts.glob("part-*.parquet"))[:1]
            dataset = _part_dataset(first[0]) if first else None
            raise DatasetError(f"{path} is an unfinished extraction (only {parts.name}/ exists): "
                               f"run `{_again(path, dataset)}` again to finish it")
        raise DatasetError(f"features file not found: {path}")
    marks = completeness(path)
    if marks is not None and not marks.complete:
        counts = f"{marks.done} of {marks.expected} images extracted" if marks.expected is not None else "stopped"
        print(f"emotui: warning: features file {path} is incomplete: {counts}; "
              f"run `{_again(path, marks.dataset)}` again to finish", file=sys.stderr, flush=True)
    return marks


def _part_dataset(part: Path) -> str | None:
    """The dataset a part file was extracted from (parts carry it, so that a parts-only file can say so)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(part).metadata or {}
    except _UNREADABLE:
        return None
    return meta[DATASET].decode(errors="replace") if DATASET in meta else None


@dataclass(frozen=True)
class FeaturesState:
    """What a features file holds, read back for a dashboard opened on a dataset extracted earlier."""

    expected: int | None  # images in the dataset when it was extracted (None: an unmarked file)
    done: int  # images with rows
    faces: int  # face rows
    by_status: dict[str, int]  # images per status
    skipped: list[tuple[str, str, str]]  # (path, status, reason) of the images that gave no features

    @property
    def complete(self) -> bool:
        return self.expected is None or self.done >= self.expected


def features_state(path: Path, most_skipped: int = 1000) -> FeaturesState | None:
    """The tallies of an existing features file (a few columns only, never the landmarks); None when it is not
    there or cannot be read. `most_skipped`: skipped images listed at most (FER+ has thousands)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from .schema import STATUSES

    try:
        table = pq.read_table(path, columns=["path", "status", "error", "face"])
        images = table.filter(pc.equal(table["face"], 0))
        statuses = images["status"].to_pylist()
        skipped_rows = images.filter(pc.not_equal(images["status"], "ok")).slice(0, most_skipped).to_pylist()
        faces = int(pc.sum(pc.equal(table["status"], "ok")).as_py() or 0)
    except _UNREADABLE:
        return None
    by_status = {s: statuses.count(s) for s in STATUSES if s in statuses}
    marks = completeness(path)
    return FeaturesState(
        expected=marks.expected if marks else None, done=images.num_rows, faces=faces, by_status=by_status,
        skipped=[(r["path"], r["status"], r["error"] or r["status"]) for r in skipped_rows])
