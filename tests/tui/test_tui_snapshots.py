"""SVG snapshots of each pane, filled by the STAND-IN jobs (deterministic values, no clocks, fixed size).

Update after an intended change of the look: pytest tests/tui/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path

from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.extract_pane import ExtractPane
from emotui.tui.jobs import Jobs
from emotui.tui.models_view import ModelsScreen, NewModelScreen
from emotui.tui.monitor_pane import MonitorPane
from emotui.tui.standins import StandIns
from emotui.tui.train_pane import TrainPane

from ..tui_helpers import plots_settled, tables_settled, wait_until

SIZE = (100, 32)


def make_app(jobs: Jobs | None = None) -> EmotuiApp:
    # A dataset path that does not exist: the stand-in makes up its images, the same on every machine.
    return EmotuiApp(Settings(data=Path("datasets/sample"), source="camera.mp4", interval=1.0),
                     jobs=jobs or StandIns(frames=6).jobs())


async def settle(pilot) -> None:  # noqa: ANN001
    await pilot.app.workers.wait_for_complete()
    pilot.app.clear_notifications()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.3)
    await plots_settled(pilot)
    await tables_settled(pilot)
    await pilot.pause(0.1)


async def run_job(pilot, key: str, pane: type) -> None:  # noqa: ANN001
    await pilot.press(key)
    await wait_until(pilot, lambda: pilot.app.query_one(pane).headline in ("done", "ended"), what=key)


def test_extract_pane(snap_compare):  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await wait_until(pilot, lambda: "stand-in" in str(pilot.app.query_one("#layout").render()), what="layout")
        await run_job(pilot, "e", ExtractPane)
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_train_pane(snap_compare):  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await run_job(pilot, "e", ExtractPane)
        await run_job(pilot, "t", TrainPane)
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, NewModelScreen), what="the new model's question")
        await pilot.press("k")  # keep the model in use: the pane as the run left it
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_monitor_pane_with_face_preview(snap_compare):  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await run_job(pilot, "w", MonitorPane)
        await pilot.press("p")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_monitor_pane_at_80x24(snap_compare):  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await run_job(pilot, "w", MonitorPane)
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_help_at_80x24(snap_compare, monkeypatch):  # noqa: ANN001
    # The help names the real paths: fixed ones here, the same on every machine.
    monkeypatch.setenv("EMOTUI_DATA", "/home/me/.local/share/emotui")
    monkeypatch.setenv("EMOTUI_MODELS", "/home/me/emotui/models")
    monkeypatch.delenv("EMOTUI_DB", raising=False)

    async def run_before(pilot) -> None:  # noqa: ANN001
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


async def sessions_second_newest(pilot) -> None:  # noqa: ANN001
    from emotui.tui.sessions_view import SessionsView

    view = pilot.app.query_one(SessionsView)
    await pilot.press("s")
    await wait_until(pilot, lambda: view.overview is not None, what="the sessions")
    await pilot.press("down")  # the second newest: an unclean session from camera 0
    await wait_until(pilot, lambda: view.overview.info.source == "0", what="the second session")


def test_sessions_view_at_80x24(snap_compare, monkeypatch):  # noqa: ANN001
    # The export field names a real path: a fixed one here. The stand-in sessions have fixed times and figures.
    monkeypatch.setenv("EMOTUI_DATA", "/home/me/.local/share/emotui")

    async def run_before(pilot) -> None:  # noqa: ANN001
        await sessions_second_newest(pilot)
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_sessions_view_at_120x40_format_focused(snap_compare, monkeypatch):  # noqa: ANN001
    monkeypatch.setenv("EMOTUI_DATA", "/home/me/.local/share/emotui")

    async def run_before(pilot) -> None:  # noqa: ANN001
        await sessions_second_newest(pilot)
        await pilot.press("tab")  # from the list to the format: its focus colour in the picture
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=run_before)


def test_models_view_at_80x24(snap_compare):  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ModelsScreen) and pilot.app.screen.entries,
                         what="the models")
        await pilot.press("down", "down")  # the run of 6 faces of 1 person, stopped early: its details below
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_new_model_question_at_80x24(snap_compare):  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await run_job(pilot, "e", ExtractPane)
        await run_job(pilot, "t", TrainPane)
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, NewModelScreen), what="the new model's question")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)
