"""What an extraction run has to do: the dataset's rows keyed as the features file keys them, and which are done.

A row is done when its (path, size, mtime_ns, landmarker sha256) is in the output or a part
(emotui.data.parts). A changed file or another landmarker model gets its rows redone.
"""

from __future__ import annotations

import os
from pathlib import Path

from .features_file import dataset_metadata, mirror_view_mark
from .parts import DETECTION_COLUMNS, KEY_COLUMNS, read_source, sources, without_appearance
from .schema import BASE_SCHEMA


def with_skipped(frame):  # noqa: ANN001, ANN201 - a DataFrame from datasets.discover, and {path: reason}
    """The dataset plus a row for each entry discovery left out as not a regular file (frame.attrs["skipped"]):
    extraction records it with status `skipped` and its reason, and never hands it to a worker, which would open
    it (a FIFO blocks its reader for ever)."""
    import pandas as pd

    from ..labels import normalize_label

    entries = frame.attrs.get("skipped") or []
    if not entries:
        return frame, {}
    rows = pd.DataFrame({"path": [e["path"] for e in entries], "subject": [e["subject"] for e in entries],
                         "label": [normalize_label(e["label"]) for e in entries]})  # an unknown label: none
    whole = pd.concat([frame, rows], ignore_index=True)
    whole.attrs = dict(frame.attrs)
    return whole, {e["path"]: e["reason"] for e in entries}


class ExtractionPlan:
    """The dataset to do, each image keyed by its file's size and mtime, and its columns every row carries."""

    def __init__(self, frame, out: Path, model_sha: str, mirror_view: str = "derive") -> None:  # noqa: ANN001
        import pandas as pd
        import pyarrow as pa

        self.frame = frame.reset_index(drop=True)
        self.out = out
        self.model_sha = model_sha
        self.paths: list[str] = self.frame["path"].astype(str).tolist()
        sizes, mtimes = [], []
        for path in self.paths:
            try:
                st = os.stat(path)
                sizes.append(st.st_size)
                mtimes.append(st.st_mtime_ns)
            except OSError:  # a manifest row whose file is gone: recorded as unreadable, redone when it appears
                sizes.append(-1)
                mtimes.append(-1)
        self.sizes, self.mtimes = sizes, mtimes
        self.keys = pd.DataFrame({"path": self.paths, "size": sizes, "mtime_ns": mtimes, "landmarker": model_sha})
        extras = [c for c in self.frame.columns if c not in BASE_SCHEMA.names]
        meta = self.frame[["label", "subject", *extras]].copy()
        meta["subject"] = meta["subject"].astype(str)
        # Converted once; each part takes its rows from it.
        self.meta = pa.Table.from_pandas(meta, preserve_index=False).replace_schema_metadata(None)
        # Parts and the merged file say which dataset they come from and how many images it has (features_file).
        self.dataset = frame.attrs.get("root")
        self.file_meta = {**BASE_SCHEMA.metadata, **dataset_metadata(self.dataset, len(self.paths))}
        # this run's parts mark their views' kind; the merge marks the kinds of the rows it keeps
        self.mirror_view = mirror_view
        self.file_meta.update(mirror_view_mark([mirror_view]))

    def sources(self) -> list[Path]:
        return sources(self.out)

    def pending(self, retry: tuple[str, ...] = ()) -> list[int]:
        """Indices of dataset rows with no current row in the output or the parts, or only rows of a status in
        `retry` (whose new rows then replace them: the merge keeps the last row of each path and face)."""
        import pandas as pd

        seen = [read_source(source, self.out, [*KEY_COLUMNS, "status"]).to_pandas()
                .assign(stale=without_appearance(source)) for source in self.sources()]
        if not seen:
            return list(range(len(self.paths)))
        done = pd.concat(seen, ignore_index=True)
        # a face row of an older emotui lacks the appearance the model reads: it is detected again
        done = done[~done["status"].isin(retry) & ~((done["status"] == "ok") & done["stale"])]
        done = done.drop(columns=["status", "stale"]).drop_duplicates()
        done["size"] = done["size"].astype("int64")
        done["mtime_ns"] = done["mtime_ns"].astype("int64")
        hit = self.keys.merge(done, on=KEY_COLUMNS, how="left", indicator=True)["_merge"].eq("both").to_numpy()
        return [i for i in range(len(self.paths)) if not hit[i]]

    def with_meta(self, detection, meta_rows: list[int]):  # noqa: ANN001, ANN201
        """Detection columns + the dataset's label, subject and extra columns of `meta_rows`, in the documented
        order."""
        import pyarrow as pa

        meta = self.meta.take(pa.array(meta_rows, pa.int64()))
        columns = {name: detection.column(name) for name in DETECTION_COLUMNS}
        columns["label"] = meta.column("label").cast(pa.string())
        columns["subject"] = meta.column("subject").cast(pa.string())
        ordered = [(name, columns[name]) for name in BASE_SCHEMA.names]
        ordered += [(name, meta.column(name)) for name in meta.column_names if name not in ("label", "subject")]
        schema = pa.schema([BASE_SCHEMA.field(n) for n in BASE_SCHEMA.names]
                           + [meta.schema.field(n) for n in meta.column_names if n not in ("label", "subject")],
                           metadata=self.file_meta)
        return pa.Table.from_arrays([c for _, c in ordered], schema=schema)
