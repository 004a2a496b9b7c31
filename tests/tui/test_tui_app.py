"""The dashboard driven through Pilot with STAND-IN jobs (emotui/tui/standins.py) that emit the real events.

They cover keys, focus, threads, errors and quitting without MediaPipe or torch; tests/tui/test_tui_e2e.py drives
the same app through the real core.
"""

from __future__ import annotations

import csv
import time

from textual.widgets import DataTable, Input, ProgressBar

from emotui.errors import DatasetError
from emotui.events import Prediction, Progress
from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.extract_pane import ExtractPane
from emotui.tui.jobs import export_path
from emotui.tui.messages import JobEvent
from emotui.tui.models_view import NewModelScreen
from emotui.tui.monitor_pane import MonitorPane
from emotui.tui.standins import STANDIN_SESSION, StandIns
from emotui.tui.train_pane import TrainPane

from ..conftest import DATASETS
from ..tui_helpers import notifications, run, shown, text_of, wait_until

SAMPLE = DATASETS / "kaggle-layout-sample"


def make_app(stand_ins: StandIns | None = None, **settings) -> EmotuiApp:  # noqa: ANN003
    settings.setdefault("data", SAMPLE)
    settings.setdefault("source", "clip.mp4")
    settings.setdefault("interval", 1.0)
    return EmotuiApp(Settings(**settings), jobs=(stand_ins or StandIns()).jobs())


def test_keys_run_extract_train_watch_export_in_turn():
    stand_ins = StandIns(frames=6)

    async def scenario() -> None:
        app = make_app(stand_ins)
        async with app.run_test(size=(120, 40)) as pilot:
            extract, train, monitor = app.query_one(ExtractPane), app.query_one(TrainPane), app.query_one(MonitorPane)
            await wait_until(pilot, lambda: "layout: stand-in" in text_of(app, "#layout"), what="layout")

            await pilot.press("e")
            await wait_until(pilot, lambda: extract.headline == "done", what="extraction")
            bar = app.query_one("#extract-progress", ProgressBar)
            assert bar.progress == bar.total == 49  # the sample's images
            assert "ok 43" in text_of(app, "#tallies") and "no face 5" in text_of(app, "#tallies")
            assert app.query_one("#failures", DataTable).row_count == 6
            screen = await shown(pilot)
            assert "images/s" in screen and "images/0/Neutral.JPG" in screen  # failures named relative to the dataset

            epochs = app.query_one("#epochs", Input)
            epochs.focus()
            epochs.clear()
            await pilot.press("3", "enter")  # Enter leaves the field
            assert not isinstance(app.focused, Input)
            await pilot.press("t")
            assert app.query_one("#train-charts").region.height > 0  # the train pane is shown
            await wait_until(pilot, lambda: train.headline == "done", what="training")
            assert app.query_one("#epochs-table", DataTable).row_count == 3
            screen = await shown(pilot)
            assert "Confusion" in screen and "macro-F1 74.0%" in screen and "test: 72 faces of 9 persons" in screen
            # the run's figures beside the model in use; the monitor changes model only when told to
            await wait_until(pilot, lambda: isinstance(app.screen, NewModelScreen), what="the new model's question")
            assert monitor.model is None
            await pilot.press("u")
            assert monitor.model.name == "standin-model"
            assert any("the monitor's model" in n and "standin-model" in n for n in notifications(app))

            await pilot.press("w")
            await wait_until(pilot, lambda: monitor.headline == "ended", what="watching")
            screen = await shown(pilot)
            assert f"session {STANDIN_SESSION}" in screen and "Model standin-model" in screen
            assert app.query_one("#recent", DataTable).row_count == 8  # 6 frames, two faces in frames 0 and 3
            assert app.query_one("#tracks", DataTable).row_count == 2
            assert "1.0 frames/s" in screen and "latency 24 ms" in screen
            assert "extract: done  train: done  watch: ended" in app.sub_title

            await pilot.press("x")
            out = export_path(STANDIN_SESSION, "csv")
            await wait_until(pilot, lambda: app.last_export == out, what="export")
            rows = list(csv.DictReader(out.open()))
            assert len(rows) == 8 and {r["session"] for r in rows} == {STANDIN_SESSION}
            assert any(str(out) in n for n in notifications(app))

    run(scenario())


def test_in_a_browser_the_export_is_delivered_as_a_download(monkeypatch):
    """Under textual-serve the driver is a web driver: the export must reach it (and from it the browser). The
    headless driver stands in, told it is a web one; what it is handed is what textual-serve would send."""

    async def scenario() -> None:
        app = make_app(StandIns(frames=2))
        async with app.run_test(size=(100, 30)) as pilot:
            delivered = []

            def deliver(binary, *, save_path, mime_type, **_):  # noqa: ANN001, ANN003
                delivered.append((save_path.name, mime_type, binary.read()))

            monkeypatch.setattr(type(app._driver), "is_web", property(lambda _: True))
            monkeypatch.setattr(app._driver, "deliver_binary", deliver)
            await pilot.press("w")
            await wait_until(pilot, lambda: app.query_one(MonitorPane).headline == "ended", what="watching")
            await pilot.press("x")
            out = export_path(STANDIN_SESSION, "csv")
            await wait_until(pilot, lambda: delivered, what="delivery")
            assert delivered == [(out.name, "text/csv", out.read_bytes())]
            # The browser's user is told of the download, not of a path on the server.
            await wait_until(pilot, lambda: any("session exported" in n for n in notifications(app)), what="notice")
            told = [n for n in notifications(app) if "session exported" in n]
            assert any(f"{out.name}: your browser is downloading it" in n for n in told)
            assert not any(str(out.parent) in n for n in told)

    run(scenario())


def test_letters_type_into_a_focused_field_and_escape_gives_the_keys_back():
    async def scenario() -> None:
        app = make_app(StandIns(frames=2))
        async with app.run_test(size=(80, 24)) as pilot:
            assert not isinstance(app.focused, Input)  # the app opens ready for keys, not in a field
            await pilot.press("3")
            source = app.query_one("#source", Input)
            source.focus()
            source.clear()
            await pilot.press(*"wet.webp")  # every letter here is also a key binding
            assert source.value == "wet.webp"
            monitor = app.query_one(MonitorPane)
            assert not monitor.running and monitor.session is None
            footer = (await shown(pilot)).splitlines()[-1]
            assert "Done editing" in footer and "Extract" not in footer
            await pilot.press("escape")
            assert not isinstance(app.focused, Input)
            await pilot.press("w")
            await wait_until(pilot, lambda: monitor.headline == "ended", what="watching")
            assert monitor.source == "wet.webp"

    run(scenario())


def test_every_field_fits_an_80_column_terminal():
    async def scenario() -> None:
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            for pane in ("extract", "train", "monitor"):
                app.action_show_pane(pane)
                await pilot.pause(0.1)
                fields = [w for row in app.query(".fields") if row.display for w in row.children]
                assert fields, pane
                for widget in fields:
                    if widget.region.width:  # only the active pane is laid out
                        assert widget.region.right <= 80, (pane, widget, widget.region)

    run(scenario())


def test_pressing_the_key_again_stops_the_job_and_keeps_what_was_done():
    async def scenario() -> None:
        app = make_app(StandIns(delay=0.05))
        async with app.run_test(size=(100, 30)) as pilot:
            extract = app.query_one(ExtractPane)
            await pilot.press("e")
            await wait_until(pilot, lambda: app.query_one("#extract-progress", ProgressBar).progress >= 3,
                             what="some progress")
            await pilot.press("e")
            await wait_until(pilot, lambda: extract.headline == "stopped", what="stop")
            done = app.query_one("#extract-progress", ProgressBar).progress
            assert 3 <= done < 49
            assert "stopped: what was done is kept" in text_of(app, "#extract-rate")
            assert extract.features is not None  # what was extracted is handed on to training

    run(scenario())


def test_a_failing_job_is_a_notification_not_a_crash():
    stand_ins = StandIns()

    def broken(dataset, *, on_event, stop):  # noqa: ANN001, ANN202
        raise DatasetError(f"{dataset}: no recognisable layout")

    async def scenario() -> None:
        jobs = stand_ins.jobs()
        app = EmotuiApp(Settings(data=SAMPLE), jobs=type(jobs)(**{**jobs.__dict__, "extract": broken}))
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("e")
            await wait_until(pilot, lambda: app.query_one(ExtractPane).headline == "failed", what="failure")
            await wait_until(pilot, lambda: any("no recognisable layout" in n for n in notifications(app)),
                             what="notification")
            assert any(n.startswith("extract failed") for n in notifications(app))
            await pilot.press("t")  # the app goes on: training says what it lacks
            assert any("no features yet" in n for n in notifications(app))
            await pilot.press("x")
            assert any("nothing to export yet" in n for n in notifications(app))

    run(scenario())


def test_bad_settings_are_refused_with_a_message():
    async def scenario() -> None:
        app = make_app()
        async with app.run_test(size=(100, 30)) as pilot:
            app.query_one(TrainPane).use_features([SAMPLE / "features.parquet"])
            app.query_one("#val", Input).value = "0.9"
            await pilot.press("t")
            assert any("validation split must be between" in n for n in notifications(app))
            app.query_one("#interval", Input).value = "-1"
            await pilot.press("w")
            assert any("interval must be" in n for n in notifications(app))
            assert not app.query_one(TrainPane).running and not app.query_one(MonitorPane).running

    run(scenario())


def test_quitting_stops_running_jobs_within_a_second():
    async def scenario() -> None:
        app = make_app(StandIns(delay=0.05, frames=None))
        async with app.run_test(size=(100, 30)) as pilot:
            monitor, extract = app.query_one(MonitorPane), app.query_one(ExtractPane)
            await pilot.press("w")
            await pilot.press("e")
            await wait_until(pilot, lambda: monitor.session is not None and extract.running, what="jobs")
            started = time.monotonic()
            await pilot.press("q")
            assert monitor.job_done.wait(1.0) and extract.job_done.wait(1.0)
            assert time.monotonic() - started < 1.0
        assert app.return_code == 0

    run(scenario())


def test_preview_toggles_and_draws_landmarks_only():
    async def scenario() -> None:
        app = make_app(StandIns(frames=3))
        async with app.run_test(size=(120, 40)) as pilot:
            preview = app.query_one("#preview")
            assert not preview.display
            await pilot.press("w")
            await wait_until(pilot, lambda: app.query_one(MonitorPane).headline == "ended", what="watching")
            await pilot.press("p")
            assert preview.display and preview.region.width > 0
            await pilot.pause(0.1)
            assert "landmarks only" in await shown(pilot)
            await pilot.press("p")
            assert not preview.display

    run(scenario())


def test_command_palette_offers_every_action():
    async def scenario() -> None:
        app = make_app(StandIns(frames=2))
        async with app.run_test(size=(100, 30)) as pilot:
            titles = [c.title for c in app.get_system_commands(app.screen)]
            for wanted in ("Extract", "Train", "Watch", "Export session as CSV", "Export session as JSONL",
                           "Export session as PARQUET", "Face preview", "Show the monitor pane", "Quit"):
                assert any(t.startswith(wanted) for t in titles), wanted
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"show the train pane")  # letters go to the palette's search field
            await pilot.pause(0.3)
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.query_one("TabbedContent").active == "train", what="palette")
            assert not app.query_one(MonitorPane).running and not app.query_one(ExtractPane).running

    run(scenario())


def test_progress_messages_collapse_but_predictions_do_not():
    progress = JobEvent(Progress("extract", 1, 10))
    assert progress.can_replace(JobEvent(Progress("extract", 2, 10)))
    assert not progress.can_replace(JobEvent(Progress("other", 2, 10)))
    prediction = Prediction("t", "s", 0, 1, "happy", 0.9, {}, {}, None, {})
    assert not JobEvent(prediction).can_replace(JobEvent(prediction))


def test_the_header_glyph_is_in_the_font_the_browser_draws_with():
    """textual-serve draws with Roboto Mono, which it ships; Textual's default icon ⭘ is not in it (an empty box)."""
    from pathlib import Path

    import textual_serve
    from fontTools.ttLib import TTFont
    from textual.widgets._header import HeaderIcon

    font = Path(textual_serve.__file__).parent / "static" / "fonts" / "RobotoMono-VariableFont_wght.ttf"
    glyphs = TTFont(font).getBestCmap()

    async def scenario() -> None:
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            icon = app.query_one(HeaderIcon).icon
            assert icon.strip() and all(ord(ch) in glyphs for ch in icon.strip()), icon
            assert icon.strip() in (await shown(pilot)).splitlines()[0]

    run(scenario())
