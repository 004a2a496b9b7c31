"""The end of every extraction run, finished or stopped: the previous output and this run's parts folded into one
features file (temp file, then rename), and the parts removed.

Only current rows are kept, in dataset order: rows of files no longer in the dataset, or changed since, are
dropped, and of two rows of one path and face the later one wins (a retried image's new row).
"""

from __future__ import annotations

from ..atomic import atomic_path
from .extraction_plan import ExtractionPlan
from .features_file import completeness_metadata, mirror_view_mark, mirror_views
from .parts import DETECTION_COLUMNS, KEY_COLUMNS, read_source, remove_parts
from .schema import BASE_SCHEMA, OPTIONAL_COLUMNS


def merge_parts(plan: ExtractionPlan):  # noqa: ANN201 - the merged pyarrow Table, None when nothing was written
    """Fold the output and the parts into one file of current rows in dataset order; remove the parts."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    sources = plan.sources()
    if not sources:
        return None
    tables = [read_source(source, plan.out) for source in sources]
    kinds = [mirror_views(t.schema.metadata, lambda t=t: _has_view(t)) for t in tables]
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    keys = table.select([*KEY_COLUMNS, "face"]).to_pandas()
    keys["order"] = np.arange(len(keys))
    current = keys.merge(plan.keys.assign(index=range(len(plan.paths))), on=KEY_COLUMNS, how="inner")
    current = current.drop_duplicates(["path", "face"], keep="last").sort_values(["index", "face"])
    unchanged = sources == [plan.out] and len(current) == len(keys) and current["order"].is_monotonic_increasing
    table = table.take(pa.array(current["order"].to_numpy()))
    source_of = np.repeat(np.arange(len(tables)), [t.num_rows for t in tables])[current["order"].to_numpy()]
    kept = {k for i in set(source_of.tolist()) for k in kinds[i]} or {plan.mirror_view}
    for name in OPTIONAL_COLUMNS:  # rows kept from an older emotui's file have no mirror view
        if name not in table.column_names:
            table = table.append_column(BASE_SCHEMA.field(name), pa.nulls(len(table), BASE_SCHEMA.field(name).type))
    table = plan.with_meta(table.select(DETECTION_COLUMNS), current["index"].tolist())
    # A run stopped part way leaves a file that says so (and how far it got); readers warn about it.
    done = int(current["index"].nunique())
    table = table.replace_schema_metadata(
        {**plan.file_meta, **completeness_metadata(plan.dataset, len(plan.paths), done), **mirror_view_mark(kept)})
    if not unchanged or not tables[0].equals(table, check_metadata=True):
        with atomic_path(plan.out) as tmp:
            # Dictionary pages only for the text columns: on the float lists they are waste (the file came out
            # larger, and the write took 0.1-0.3 s of a 300-image run against 0.02 s; benchmarks/bench_extract.py).
            text = [f.name for f in table.schema if pa.types.is_string(f.type)]
            pq.write_table(table, tmp, use_dictionary=text)
    remove_parts(plan.out, sources)
    return table


def _has_view(table) -> bool:  # noqa: ANN001 - a pyarrow Table
    column = "mirror_landmarks"
    return column in table.column_names and table.column(column).null_count < table.num_rows
