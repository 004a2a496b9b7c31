"""The part files of an extraction: each finished batch saved at once as its own small Parquet file in
`<out>.parts/`, and the sources (the previous output, then the parts) read back to resume and to merge.

A part is written to a temp file and renamed, so Ctrl-C or kill -9 loses at most the batches in flight, and a part
that cannot be read was never one of ours. Kept apart from the plan and the merge (emotui.data.extraction_plan,
emotui.data.extraction_merge) because both read the sources and neither should import the other.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..atomic import write_error
from ..errors import DatasetError, WriteError
from .detection import Detected
from .features_file import parts_dir
from .schema import BASE_FIELDS, BASE_SCHEMA, FACE_COLUMNS

KEY_COLUMNS = ["path", "size", "mtime_ns", "landmarker"]
DETECTION_COLUMNS = [f.name for f in BASE_FIELDS if f.name not in ("label", "subject")]


def sources(out: Path) -> list[Path]:
    """The output (when there is one) then the parts, oldest first: later rows replace earlier ones."""
    parts = parts_dir(out)
    found = sorted(parts.glob("part-*.parquet")) if parts.is_dir() else []
    return ([out] if out.exists() else []) + found


def read_source(source: Path, out: Path, columns: list[str] | None = None):  # noqa: ANN201 - a pyarrow Table
    """`columns` of one source. A damaged output is the user's file and stops the run; a damaged part is removed
    and read as empty."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(source).names
        missing = [c for c in columns or [] if c not in names]
        table = None if missing else pq.read_table(source, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        if source == out:
            # Arrow's messages run over several lines (a schema dump): the first says enough.
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DatasetError(
                f"{source} exists and is not an emotui features file ({reason}); choose another --out"
            ) from None
        source.unlink(missing_ok=True)  # a part is renamed into place whole, so this is foreign: drop it
        return pa.table({c: pa.array([], BASE_SCHEMA.field(c).type) for c in columns or KEY_COLUMNS})
    if missing:
        raise DatasetError(f"{source} exists and is not an emotui features file (missing columns: "
                           f"{', '.join(missing)}); choose another --out")
    return table


def without_appearance(source: Path):  # noqa: ANN201 - numpy bool array
    """Which rows of a source have no appearance, or no crop (all, in a file of an older emotui)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        if {"appearance", "crop"} <= set(pq.read_schema(source).names):
            table = pq.read_table(source, columns=["appearance", "crop"])
            return pc.or_(table["appearance"].is_null(), table["crop"].is_null()).to_numpy(zero_copy_only=False)
        return pq.read_metadata(source).num_rows * [True]
    except Exception:  # noqa: BLE001 - read_source reports a damaged source in its own words
        return True


def remove_parts(out: Path, merged: list[Path]) -> None:
    """After a merge into `out`: the parts it folded in, a part a killed process left half written, the folder."""
    for source in merged:
        if source != out:
            source.unlink(missing_ok=True)
    parts = parts_dir(out)
    if parts.is_dir():
        for leftover in parts.glob("*.tmp"):  # a part being written when the process was killed
            leftover.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            parts.rmdir()


class PartWriter:
    """Saves each finished batch of a run as the next part file of its plan (emotui.data.extraction_plan)."""

    def __init__(self, plan) -> None:  # noqa: ANN001 - an ExtractionPlan (not imported: it imports this module)
        self.plan = plan
        self.parts = parts_dir(plan.out)
        self._next_part = 0

    def write(self, indices: list[int], results: list[Detected]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        plan = self.plan
        rows: dict[str, list] = {name: [] for name in DETECTION_COLUMNS}
        meta_rows: list[int] = []
        for index, result in zip(indices, results):
            faces = result.faces or [None]
            for number, face in enumerate(faces):
                meta_rows.append(index)
                rows["path"].append(plan.paths[index])
                rows["status"].append(result.status)
                rows["error"].append(result.error)
                rows["width"].append(result.width)
                rows["height"].append(result.height)
                rows["n_faces"].append(result.n_faces)
                rows["face"].append(number)
                for column, value in zip(FACE_COLUMNS, face or (None,) * len(FACE_COLUMNS)):
                    rows[column].append(value)
                rows["size"].append(plan.sizes[index])
                rows["mtime_ns"].append(plan.mtimes[index])
                rows["landmarker"].append(plan.model_sha)
        table = pa.table({name: pa.array(rows[name], BASE_SCHEMA.field(name).type) for name in DETECTION_COLUMNS})
        table = plan.with_meta(table, meta_rows)
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise WriteError(f"cannot write {plan.out}: {self.parts} is in the way (a file, where emotui keeps "
                             "the parts of an extraction in a folder): move it") from None
        except OSError as exc:  # the user asked for `out`, not for its parts folder: name theirs
            raise write_error(plan.out, exc) from None
        if self._next_part == 0:  # after parts a killed run left behind
            numbers = [int(p.stem.split("-")[1]) for p in self.parts.glob("part-*.parquet")]
            self._next_part = max(numbers, default=-1) + 1
        target = self.parts / f"part-{self._next_part:06d}.parquet"
        self._next_part += 1
        tmp = target.with_suffix(".tmp")
        try:  # parts live for one run: written fast, not small
            pq.write_table(table, tmp, compression="none", write_statistics=False, use_dictionary=False)
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise write_error(plan.out, exc) from None
