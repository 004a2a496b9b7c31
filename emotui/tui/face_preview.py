"""The face as points, drawn from the 478 landmarks alone: framing can be checked over SSH while no pixel of
the camera image leaves the machine."""

from __future__ import annotations

from typing import Any

import numpy as np
from textual_plotext.plot import Plot

from .charts import CachedPlot

MARGIN = 0.08  # of the face's size, on each side: the outline's points are not drawn on the frame's edge
# A terminal cell is about twice as tall as it is wide, and a braille cell holds 2x4 dots: dots are square.
CELL_ASPECT = 2.0
# What plotext leaves of the widget for the points: the title row, and the frame's lines round the plot.
PLOT_BORDER_COLUMNS, PLOT_BORDER_ROWS = 2, 3


def face_limits(xs: np.ndarray, ys: np.ndarray, columns: int, rows: int) -> tuple[tuple[float, float],
                                                                                    tuple[float, float]]:
    """x and y limits that fill a `columns` x `rows` plot area with the face, its shape kept: the face's box
    plus a margin, widened on the short side to the area's own proportions."""
    x0, x1, y0, y1 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
    width, height = max(x1 - x0, 1e-6) * (1 + 2 * MARGIN), max(y1 - y0, 1e-6) * (1 + 2 * MARGIN)
    area = max(columns, 1) / (max(rows, 1) * CELL_ASPECT)  # the area's width / height in the same units
    if width / height < area:
        width = height * area
    else:
        height = width / area
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - width / 2, cx + width / 2), (cy - height / 2, cy + height / 2)


def face_points(landmarks: Any, bbox: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """x right, y up, in the frame's pixels when the face's box (in pixels) tells the frame's size: landmarks are
    fractions of the frame's width and height, so a face in a 16:9 frame would look squeezed otherwise."""
    points = np.asarray(landmarks, dtype=np.float32).reshape(-1, 3)
    xs, ys = points[:, 0].astype(np.float64), points[:, 1].astype(np.float64)
    if bbox is not None:
        # The box is the clipped landmarks' extent times the frame's size (landmarker.face_bbox).
        bx0, by0, bx1, by1 = (float(v) for v in bbox)
        span_x = float(np.ptp(np.clip(xs, 0, 1)))
        span_y = float(np.ptp(np.clip(ys, 0, 1)))
        if span_x > 0 and span_y > 0 and bx1 > bx0 and by1 > by0:
            xs, ys = xs * (bx1 - bx0) / span_x, ys * (by1 - by0) / span_y
    return xs, -ys


class FacePreview(CachedPlot):
    """Braille points zoomed to the face, its proportions kept: the mesh's shape (an open mouth, a turned head)
    is what a user checks here, and a face small in the frame would be a blob of a few cells otherwise."""

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.show(None)

    def show(self, landmarks: Any, bbox: Any = None, note: str = "") -> None:
        xs, ys = (np.empty(0), np.empty(0)) if landmarks is None else face_points(landmarks, bbox)
        title = note or "face preview (landmarks only)"

        def setup(plt: Plot) -> None:
            plt.title(title)
            plt.xticks([])
            plt.yticks([])
            if not len(xs):
                plt.xlim(0.0, 1.0)
                plt.ylim(-1.0, 0.0)
                return
            width, height = plt.plot_size()
            (left, right), (bottom, top) = face_limits(xs, ys, width - PLOT_BORDER_COLUMNS,
                                                       height - PLOT_BORDER_ROWS)
            plt.xlim(left, right)
            plt.ylim(bottom, top)
            plt.scatter(xs.tolist(), ys.tolist(), marker="braille")

        self.set_plot(setup)
