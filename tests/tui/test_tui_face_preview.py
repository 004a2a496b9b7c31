"""The face preview (p) while the REAL monitor watches ../shared/media/single_face.mp4: the landmarks fill the
preview, zoomed to the face, at 80x24 and at 120x40 (it used to draw the whole frame: 16 of 41 columns)."""

from __future__ import annotations

import pytest

from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.face_preview import PLOT_BORDER_COLUMNS, PLOT_BORDER_ROWS, FacePreview, face_limits

from ..conftest import MEDIA
from ..tui_helpers import plots_settled, run, screen_text, start_watching, wait_until


def drawn_extent(app) -> tuple[float, float]:  # noqa: ANN001
    """The share of the preview's plot columns and rows that hold a braille dot."""
    region = app.query_one(FacePreview).region
    lines = screen_text(app).splitlines()[region.y:region.y + region.height]
    cells = [(x, y) for y, line in enumerate(lines) for x, ch in enumerate(line[region.x:region.right])
             if 0x2800 < ord(ch) <= 0x28FF]
    assert cells, "the preview drew no point"
    columns = len({x for x, _ in cells}) / (region.width - PLOT_BORDER_COLUMNS)
    rows = len({y for _, y in cells}) / (region.height - PLOT_BORDER_ROWS)
    return columns, rows


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_the_preview_is_zoomed_to_the_face(size):
    async def scenario() -> None:
        app = EmotuiApp(Settings(source=str(MEDIA / "single_face.mp4"), interval=0.0))
        async with app.run_test(size=size) as pilot:
            monitor = await start_watching(app, pilot)
            await pilot.press("p")
            await wait_until(pilot, lambda: monitor.landmarks is not None and monitor.face_box is not None,
                             timeout=30, what="a face")
            await wait_until(pilot, lambda: not monitor.running, timeout=60, what="the end of the video")
            await plots_settled(pilot)
            columns, rows = drawn_extent(app)
            # The face fills the side that limits it; the other keeps the face's proportions (taller than wide).
            assert max(columns, rows) >= 0.85 and min(columns, rows) >= 0.4, (columns, rows)

    run(scenario())


def test_the_limits_keep_the_face_shape_whatever_the_plot_shape():
    import numpy as np

    xs, ys = np.array([0.0, 100.0]), np.array([0.0, -150.0])  # a face 100 px wide, 150 px tall
    for columns, rows in ((20, 9), (40, 30), (120, 10)):
        (left, right), (bottom, top) = face_limits(xs, ys, columns, rows)
        assert left <= 0 and right >= 100 and bottom <= -150 and top >= 0
        # Square braille dots: the x span per column is half the y span per row.
        assert abs((right - left) / columns - (top - bottom) / (rows * 2)) < 1e-6
        assert min((right - left) / 100, (top - bottom) / 150) < 1.2  # zoomed: the limiting side has a margin only
