"""The `?` help overlay and the command palette: both open over the dashboard and Escape closes them."""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandPalette

from emotui import config
from emotui.live.monitor import UNCERTAIN_BELOW
from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.extract_pane import ExtractPane
from emotui.tui.help_screen import HelpScreen, help_content
from emotui.tui.standins import StandIns

from ..tui_helpers import run, shown, wait_until

SIZE = (100, 32)


def make_app() -> EmotuiApp:
    return EmotuiApp(Settings(data=Path("datasets/sample"), source="camera.mp4", interval=1.0), jobs=StandIns(frames=6).jobs())


def test_question_mark_opens_the_help_and_escape_or_question_mark_closes_it():
    async def scenario() -> None:
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            screen = await shown(pilot)
            assert "Keys" in screen and "ctrl+p" in screen
            await pilot.press("e")  # the dashboard's keys wait while the help is open
            assert isinstance(app.screen, HelpScreen) and not app.query_one(ExtractPane).running
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("question_mark")
            assert not isinstance(app.screen, HelpScreen)
            assert "Help" in await shown(pilot)  # the footer names the key

    run(scenario())


def test_question_mark_types_in_a_field():
    async def scenario() -> None:
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            field = app.query_one("#dataset")
            field.focus()
            await pilot.press("a", "question_mark")
            assert field.value == "a?" and not isinstance(app.screen, HelpScreen)

    run(scenario())


def test_escape_closes_the_command_palette():
    # The app's priority Escape (leave a field) took the key from the palette's own field.
    async def scenario() -> None:
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+p")
            await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
            await pilot.press("h", "e")  # letters type in the palette's field, they start nothing
            assert not app.query_one(ExtractPane).running
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, CommandPalette), what="the palette to close")
            assert not app.query(CommandPalette)
            await pilot.press("1")  # and the dashboard's keys act again
            assert not isinstance(app.screen, HelpScreen)

    run(scenario())


def test_help_tells_the_monitor_threshold_and_the_files():
    text = "\n".join(str(cell) for table in help_content().renderables if hasattr(table, "columns")
                     for column in table.columns for cell in column._cells)
    assert f"under {UNCERTAIN_BELOW:.0%}" in text and "calibrating" in text and "best epoch so far" in text
    assert str(config.data_dir()) in text and str(config.log_db_path()) in text and str(config.models_dir()) in text
    from emotui.data.schema import STATUSES

    assert all(status.replace("_", " ") in text for status in STATUSES)  # every status the extract pane can count
