"""The face as points, drawn from the 478 landmarks alone: framing can be checked over SSH while no pixel of
the camera image leaves the machine."""

from __future__ import annotations

from typing import Any

import numpy as np
from textual_plotext import PlotextPlot


class FacePreview(PlotextPlot):
    """Braille points in the camera frame's coordinates (x right, y down), so an off-centre face looks it."""

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.show(None)

    def show(self, landmarks: Any, note: str = "") -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(note or "face preview (landmarks only)")
        plt.xlim(0.0, 1.0)
        plt.ylim(-1.0, 0.0)
        plt.xticks([])
        plt.yticks([])
        if landmarks is not None:
            points = np.asarray(landmarks, dtype=np.float32).reshape(-1, 3)
            plt.scatter(points[:, 0].tolist(), (-points[:, 1]).tolist(), marker="braille")
        self.refresh()
