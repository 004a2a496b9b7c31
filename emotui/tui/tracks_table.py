"""The monitor pane's tracks table: one row per tracked face, its latest label, confidence, frame and box."""

from __future__ import annotations

from ..events import Prediction
from ..progress_render import shown
from .charts import MeasuredTable
from .monitor_text import BOX_FULL, BOX_SHORT, box_text


class TracksTable(MeasuredTable):
    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self.full_boxes = False  # the boxes with their position (a wide pane)
        self.boxes: dict[str, object] = {}  # each row's box, to write again when the width changes

    def on_mount(self) -> None:
        # Fixed widths, each its column's widest value (see MonitorPane.on_mount); the box is what a narrow
        # screen shortens
        for name, width in (("face", 4), ("label", 8), ("conf", 4), ("frame", 5), ("box", BOX_SHORT)):
            self.add_column(name, key=name, width=width)

    def show_full_boxes(self, full: bool) -> None:
        if full == self.full_boxes:
            return
        self.full_boxes = full
        self.columns["box"].width = BOX_FULL if full else BOX_SHORT
        for key, bbox in self.boxes.items():
            self.update_cell(key, "box", box_text(bbox, full))
        self.refresh(layout=True)

    def show(self, p: Prediction) -> None:
        key = str(p.track)
        self.boxes[key] = p.bbox
        values = {"face": key, "label": shown(p.label or "-"), "conf": f"{p.confidence:.0%}", "frame": str(p.frame),
                  "box": box_text(p.bbox, self.full_boxes)}
        if key in self.rows:
            for column, value in values.items():
                self.update_cell(key, column, value)
        else:
            self.add_row(*values.values(), key=key)
