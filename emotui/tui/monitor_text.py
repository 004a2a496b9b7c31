"""What the monitor pane writes: the source's kind on its status line, a face's box in the tracks table."""

from __future__ import annotations

import re
from pathlib import Path

from ..live.camera import IMAGE_SUFFIXES, URL_RE

# The tracks table's box column: "208x261 at 337,56" where the pane has room for it, "208x261" where it has not
# (80 columns: the recent predictions take 40, the tracks' other columns 29).
BOX_FULL, BOX_SHORT = 21, 7
BOX_FULL_FROM = 92  # the pane's width from which the full box fits beside the recent predictions


def source_kind(source: str) -> str:
    """The word the status line puts before the source's state: "camera open", "video open", "file open"."""
    text = source.strip()
    if re.fullmatch(r"\d+", text) or text.startswith("/dev/video"):
        return "camera"
    if URL_RE.match(text):
        return "stream"
    suffix = Path(text).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "file"
    if suffix:
        return "video"
    return "folder" if Path(text).expanduser().is_dir() else "source"


def box_text(bbox, full: bool) -> str:  # bbox: (x0, y0, x1, y1) in pixels, or None
    if not bbox:
        return "-"
    x0, y0, x1, y1 = (int(v) for v in bbox)
    size = f"{x1 - x0}x{y1 - y0}"
    return f"{size} at {x0},{y0}" if full else size


def label_lines(text: str, width: int, rows: int) -> str:
    """`text` wrapped at word boundaries into the big label's `rows` lines of `width`; what does not fit ends in
    "…" after a whole word (the notification has it all)."""
    import textwrap

    lines = textwrap.wrap(text, width) or [""]
    if len(lines) > rows:
        lines = lines[:rows]
        lines[-1] = textwrap.shorten(lines[-1] + " " + "x" * width, width, placeholder=" …")
    return "\n".join(lines)


def status_text(source: str, state: str, fps: str, latency: str, neutral: str | None, session: str,
                width: int) -> str:
    """The status line (rich markup; `session` already escaped), worded to fit `width`: at 80 columns with a
    neutral face set, "frames/s" and "latency" give way so the session id stays whole."""
    head = f"{source_kind(source)} [b]{state}[/]"
    tail = f"{f'  {neutral}' if neutral else ''}  session {session}"
    full = f"{head}  {fps} frames/s  latency {latency}{tail}"
    short = f"{head}  {fps} fps  {latency}{tail}"
    return full if len(full) - len("[b][/]") <= width else short
