"""The dashboard at 80x24, the design size (issue 33): the header, the train pane's result line, charts and
tables, and the monitor pane's box column, error text and source word read whole, with the stand-in jobs."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from emotui.live.neutral import NeutralPins
from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.extract_pane import ExtractPane
from emotui.tui.header_text import header_text
from emotui.tui.models_view import NewModelScreen
from emotui.tui.monitor_pane import MonitorPane
from emotui.tui.monitor_text import label_lines, source_kind, status_text
from emotui.tui.standins import StandIns

from ..conftest import MEDIA
from ..tui_helpers import run, screen_text, shown, wait_until
from .job_states import LONG_ERROR, failing, running

SMALL = (80, 24)


def _app(source: str = "camera.mp4", jobs=None) -> EmotuiApp:
    return EmotuiApp(Settings(data=Path("datasets/sample"), source=source, interval=1.0),
                     jobs=jobs or StandIns(frames=6).jobs())


async def _trained(app, pilot) -> None:
    await pilot.press("e")
    await wait_until(pilot, lambda: app.query_one(ExtractPane).headline == "done", what="extraction")
    await pilot.press("t")
    await wait_until(pilot, lambda: isinstance(app.screen, NewModelScreen), what="the new model's question")
    await pilot.press("k")
    app.clear_notifications()


def test_the_header_fits_its_line():
    jobs = [("extract", "idle"), ("train", "idle"), ("watch", "idle")]
    assert header_text("default", jobs, 66) == "model: default  extract: idle  train: idle  watch: idle"
    busy = [("extract", "1234/5000"), ("train", "epoch 12/30"), ("watch", "surprise 95%")]
    long_model = "ckplus48-muxspa…-093000"
    assert header_text(long_model, busy, 66) == f"{long_model}  e 1234/5000  t epoch 12/30  w surprise 95%"
    assert header_text("default", [("extract", "idle"), ("train", "epoch 3/20"), ("watch", "idle")], 34) \
        == "model: default  train: epoch 3/20"

    async def scenario() -> None:
        app = _app()
        async with app.run_test(size=SMALL) as pilot:
            for key, pane, done in (("e", ExtractPane, "done"), ("w", MonitorPane, "ended")):
                await pilot.press(key)
                await wait_until(pilot, lambda pane=pane, done=done: app.query_one(pane).headline == done, what=key)
                await pilot.pause(0.1)
                header = screen_text(app).splitlines()[0]
                assert app.sub_title in header and "…" not in header, (app.sub_title, header)
            assert app.sub_title == "model: default  extract: done  train: idle  watch: ended"

    run(scenario())


def _chart_rows(screen: str, first: int, last: int) -> list[str]:
    return screen.splitlines()[first:last]


def test_train_pane_shows_the_model_the_axes_and_5_rows_of_each_table():
    async def scenario() -> None:
        app = _app()
        async with app.run_test(size=SMALL) as pilot:
            await _trained(app, pilot)
            screen = await shown(pilot)
            assert "model standin-model  accuracy 78.0%  macro-F1 74.0%" in screen, screen
            assert "test: 72 faces of 9" in screen and "persons" in screen, screen  # wrapped, not cut
            acc = app.query_one("#acc-chart").region
            labels = [re.search(r"(\d\.\d\d)┤", line) for line in _chart_rows(screen, acc.y, acc.bottom)]
            assert len([m for m in labels if m]) >= 3, screen
            lines = screen.splitlines()
            for name in ("anger", "contempt", "disgust", "fear", "happy"):
                assert any(re.match(rf"\s+{name[:3]}(\s+\d+){{8}}\s+{name}\s", line) for line in lines), screen
            results = app.query_one("#train-results")
            assert results.max_scroll_y > 0  # the rest scrolls into view
            results.focus()
            await pilot.press("end")
            await pilot.pause(0.2)
            assert re.search(r"\s+sur(\s+\d+){8}\s+surprise\s", await shown(pilot)), screen_text(app)

    run(scenario())


@pytest.mark.parametrize(("size", "box"), [(SMALL, r"120x150"), ((120, 40), r"120x150 at [12]00,80")])
def test_monitor_box_column_reads_whole(size, box):
    async def scenario() -> None:
        app = _app(str(MEDIA / "WolfgangLanger_Pexels.mp4"))
        async with app.run_test(size=size) as pilot:
            await pilot.press("w")
            monitor = app.query_one(MonitorPane)
            await wait_until(pilot, lambda: monitor.headline == "ended", what="watching")
            app.clear_notifications()
            screen = await shown(pilot)
            rows = [line for line in screen.splitlines() if re.search(r"\b[12]\s+\w+\s+60%\s+\d\s+1\d0x", line)]
            assert len(rows) == 2 and all(re.search(rf"  {box}$", line.rstrip()) for line in rows), screen
            assert "video off" in screen  # the source is a video file, not a camera

    run(scenario())


def test_the_status_line_names_the_kind_of_source(tmp_path):
    assert [source_kind(s) for s in ("0", "/dev/video2", "rtsp://cam.local/s", "clip.MP4", "face.jpg")] == \
        ["camera", "camera", "stream", "video", "file"]
    assert source_kind(str(tmp_path)) == "folder"

    async def scenario() -> None:
        app = _app(str(MEDIA / "single_face.jpg"))
        async with app.run_test(size=SMALL) as pilot:
            await pilot.press("3")
            await pilot.pause(0.1)
            assert "file off" in screen_text(app)
            app.query_one(MonitorPane).toggle()
            await wait_until(pilot, lambda: "file open" in screen_text(app), what="the status line")

    run(scenario())


def test_monitor_error_wraps_in_the_big_label():
    assert label_lines("a " * 100, 32, 3).endswith("a …")
    assert label_lines("short", 32, 3) == "short"

    async def scenario() -> None:
        app = _app(jobs=failing(StandIns().jobs()))
        async with app.run_test(size=SMALL) as pilot:
            await pilot.press("w")
            monitor = app.query_one(MonitorPane)
            await wait_until(pilot, lambda: monitor.headline == "failed", what="the failure")
            app.clear_notifications()
            await pilot.pause(0.2)
            label = app.query_one("#big-label").region
            text = " ".join(line[label.x:label.right].strip()
                            for line in screen_text(app).splitlines()[label.y:label.bottom])
            words = text.removesuffix(" …").split()
            assert len(words) > 8 and all(w in LONG_ERROR.split() for w in words), text  # whole words only
            assert LONG_ERROR.startswith(" ".join(words)), text

    run(scenario())


def test_the_status_line_keeps_the_session_whole_with_a_neutral_face():
    session = "20261207-093210-e0d7"
    wide = status_text("clip.mp4", "open", "2.0", "29 ms", None, session, 78)
    assert wide == f"video [b]open[/]  2.0 frames/s  latency 29 ms  session {session}"
    narrow = status_text("clip.mp4", "open", "2.0", "29 ms", "neutral: face 1", session, 78)
    assert narrow == f"video [b]open[/]  2.0 fps  29 ms  neutral: face 1  session {session}"

    pins = NeutralPins()
    pins.apply(0, [1], np.zeros((1, 478, 3)), np.zeros((1, 52)), (np.zeros((1, 478, 3)), np.zeros((1, 52)),
                                                                  np.zeros(1, dtype=bool)))
    pins.set_from_latest()
    standins = running(StandIns(frames=6).jobs())
    jobs = dataclasses.replace(standins, neutral_pins=lambda: pins,
                               watch=lambda *args, neutral, **kwargs: standins.watch(*args, **kwargs))

    async def scenario() -> None:
        app = _app("clip.mp4", jobs)
        async with app.run_test(size=SMALL) as pilot:
            await pilot.press("w")
            monitor = app.query_one(MonitorPane)
            await wait_until(pilot, lambda: monitor.rows == 8, what="the frames")
            await pilot.pause(0.5)
            line = next(line for line in screen_text(app).splitlines() if "video open" in line)
            # the stand-in's session id is short: the full wording fits
            assert line.strip() == "video open  1.0 frames/s  latency 24 ms  neutral: face 1  session standin-0001"

    run(scenario())
