"""The monitor pane's neutral key (n), in the real dashboard with the real monitor: the latest frame's lone face
becomes its track's reference; no face or several faces in view are refused with a message, nothing set."""

from __future__ import annotations

from pathlib import Path

import pytest

from emotui.live.logstore import LogStore
from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.help_screen import HelpScreen

from ..conftest import MEDIA
from ..tui_helpers import notifications, run, shown, start_watching, text_of, wait_until

SIZE = (100, 30)


def _app(source: Path, model: Path | None) -> EmotuiApp:
    return EmotuiApp(Settings(source=str(source), interval=0.0, model=model))


async def _stop(app, pilot, monitor) -> None:
    await pilot.press("w")
    await wait_until(pilot, lambda: not monitor.running, timeout=30, what="the watch to stop")


@pytest.mark.slow
def test_n_sets_the_watched_face_as_its_neutral_and_the_session_records_it(reference_model):
    async def scenario() -> None:
        app = _app(MEDIA / "WolfgangLanger_Pexels.mp4", reference_model)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            footer = (await shown(pilot)).splitlines()[-1]
            assert "n Neutral" in footer and "? Help" in footer, footer
            await pilot.press("n")
            assert "press w to watch first" in notifications(app)[-1]
            monitor = await start_watching(app, pilot)
            await wait_until(pilot, lambda: monitor.current is not None and monitor.current.label is not None,
                             timeout=60, what="a face")
            assert not monitor.current.neutral
            await pilot.press("n")
            assert notifications(app)[-1] == "neutral face neutral face set for face 1", notifications(app)
            # the frames judged after it carry it; the status says so
            await wait_until(pilot, lambda: monitor.current.neutral, timeout=30, what="a frame judged against it")
            await pilot.pause(0.3)
            assert "neutral: face 1" in text_of(app, "#monitor-status")
            session = monitor.session
            await _stop(app, pilot, monitor)
        with LogStore(read_only=True) as store:
            (entry,) = store.session(session).settings["neutral"]
        assert entry["track"] == 1 and entry["from"].startswith("frame ")

    run(scenario())


@pytest.mark.slow
def test_n_is_refused_with_several_faces_or_none_in_view(tmp_path):
    several = tmp_path / "group"
    several.mkdir()
    for i in range(30):  # a slideshow of the same group photo, a frame a second: still in view when n is pressed
        (several / f"{i:02d}.jpg").symlink_to(MEDIA / "multi_face.jpg")

    async def scenario(source: Path, refused: str) -> None:
        app = _app(source, None)
        async with app.run_test(size=SIZE) as pilot:
            monitor = await start_watching(app, pilot)
            await pilot.press("n")
            assert notifications(app)[-1] == f"neutral face not set {refused}", notifications(app)
            assert monitor.neutral.status() is None and "neutral" not in text_of(app, "#monitor-status")
            session = monitor.session
            await _stop(app, pilot, monitor)
        with LogStore(read_only=True) as store:
            assert "neutral" not in store.session(session).settings

    # the monitor follows up to 4 faces of the 5
    run(scenario(several, "4 faces in view: the neutral face needs one alone"))
    run(scenario(MEDIA / "no_face.mp4", "no face in view: the neutral face needs one"))


def test_the_help_names_the_neutral_key():
    async def scenario() -> None:
        app = _app(MEDIA / "single_face.mp4", None)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            assert "this is my neutral face" in await shown(pilot)

    run(scenario())
