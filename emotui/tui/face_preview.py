"""The face as points, drawn from the 478 landmarks alone: framing can be checked over SSH while no pixel of
the camera image leaves the machine."""

from __future__ import annotations

from typing import Any

import numpy as np
from textual_plotext.plot import Plot

from .charts import CachedPlot


class FacePreview(CachedPlot):
    """Braille points in the camera frame's coordinates (x right, y down), so an off-centre face looks it."""

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.show(None)

    def show(self, landmarks: Any, note: str = "") -> None:
        points = None if landmarks is None else np.asarray(landmarks, dtype=np.float32).reshape(-1, 3)
        xs, ys = ([], []) if points is None else (points[:, 0].tolist(), (-points[:, 1]).tolist())
        title = note or "face preview (landmarks only)"

        def setup(plt: Plot) -> None:
            plt.title(title)
            plt.xlim(0.0, 1.0)
            plt.ylim(-1.0, 0.0)
            plt.xticks([])
            plt.yticks([])
            if xs:
                plt.scatter(xs, ys, marker="braille")

        self.set_plot(setup)
