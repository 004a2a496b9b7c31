"""How the sessions view shows a session in a given width. In the table every column is as wide as its header
or its longest cell, one cell apart, and the rest goes to the source and the model, which are data (a header is
not): they are shortened only when the narrow headers do not make room for them whole."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from .fields import shorten_middle

# Columns whose text is short and fixed; source and model share what the screen has left.
FIXED_COLUMNS = ("started UTC", "length", "frames", "faces", "status")
NARROW_LABELS = ("started UTC", "len", "frm", "faces", "status")  # when the names would be cut otherwise
KEYS = (*FIXED_COLUMNS, "source", "model")
WIDE = 110  # from this many columns on, the start shows its year and seconds
MODEL_LEAST = 13  # a shortened model keeps this many cells: "defa…9903a046" keeps the weights' checksum


def session_length(seconds: float) -> str:
    """45s, 12m05s, 3h07m: the length in at most 6 cells."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def source_name(source: str) -> str:
    """A camera by its index, a URL whole, a file or folder by its name (the full path is on the title line)."""
    if source.isdigit():
        return f"camera {source}"
    if "://" in source:
        return source
    return Path(source).name or source


def session_columns(infos: list, width: int) -> tuple[tuple[str, ...], list[int], list[tuple]]:
    """The headers, the widths (each column's gap included, the scroll bar left out) and the rows' cells of
    `infos` (SessionInfo) in `width` cells."""
    wide = width >= WIDE
    rows = [(info.started[:19].replace("T", " ") if wide else info.started[5:16].replace("T", " "),
             session_length(info.seconds), str(info.frames), str(info.faces), info.status) for info in infos]
    sources = [source_name(info.source) for info in infos]
    models = [info.model_id or "-" for info in infos]
    longest = max([6, *map(len, sources)]), max([5, *map(len, models)])
    for labels in (FIXED_COLUMNS, NARROW_LABELS):
        widths = [max([len(label), *(len(row[i]) for row in rows)]) + 1 for i, label in enumerate(labels)]
        room = max(20, width - sum(widths) - 1 - 1)  # the gap between source and model, the scroll bar
        if room >= sum(longest):
            break
    source_width = min(longest[0], max(8, room - min(longest[1], MODEL_LEAST)))
    model_width = max(5, room - source_width)
    cells = [(*row, shorten_middle(source, source_width), shorten_middle(model, model_width))
             for row, source, model in zip(rows, sources, models)]
    return (*labels, "source", "model"), [*widths, source_width + 1, model_width], [tuple(map(Text, c)) for c in cells]


def session_title(info, width: int) -> Text:  # noqa: ANN001 - a SessionInfo, as in session_columns
    """Above the highlighted session's chart: its id and how it ended, then its source path and model on one line
    if they fit in `width`, else the model and then the path on a line of its own (shortened in the middle only
    when even that line is too short: the file name, kept at its end, is in the table)."""
    reason = f" ({info.end_reason})" if info.end_reason else ""
    gaps = f", {info.gaps} gaps" if info.gaps else ""
    head = Text.assemble((info.id, "bold"), f"  {info.status}{reason}{gaps}\n")
    model = info.model_id or "-"
    if len(f"source {info.source}  model {model}") <= width:
        return Text.assemble(head, "source ", info.source, "  model ", model)
    return Text.assemble(head, "model ", model, "\nsource ", shorten_middle(info.source, width - len("source ")))
