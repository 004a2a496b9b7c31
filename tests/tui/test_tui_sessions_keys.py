"""The sessions view from the keyboard at 80x24 (the design size) and 120x40, on a REAL prediction log made by real
watches of ../shared media: the names whole, 5 rows of sessions, the footer's Help, the format chosen with Tab,
Enter and the arrows with the focus visible, and the command palette exporting the highlighted session."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from textual.widgets import Button, DataTable, Input, Select
from textual.widgets._select import SelectCurrent

from emotui import config
from emotui.live.logstore import LogStore
from emotui.live.monitor import run_monitor
from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.session_columns import source_name
from emotui.tui.sessions_view import SessionsView

from ..conftest import MEDIA
from ..tui_helpers import notifications, run, shown, wait_until

LONG_NAME = "WolfgangLanger_Pexels.mp4"


@pytest.fixture
def six_logged(predictor) -> list[str]:  # noqa: ANN001
    """Six short sessions, oldest first, each of its own length; the second watched the long-named video."""
    videos = ["single_face.mp4", LONG_NAME, *["single_face.mp4"] * 4]
    with LogStore(config.log_db_path()) as store:
        return [run_monitor(MEDIA / video, predictor=predictor, store=store, interval=0, fast=True,
                            frames=frames).session for video, frames in zip(videos, (2, 3, 4, 5, 6, 7))]


def logged_rows() -> tuple[dict, dict]:
    with LogStore(read_only=True) as store:
        infos = {info.id: info for info in store.sessions()}
        return infos, {s: len(list(store.rows(session=s))) for s in infos}


async def open_sessions(app, pilot) -> SessionsView:  # noqa: ANN001
    view = app.query_one(SessionsView)
    await pilot.press("s")
    await wait_until(pilot, lambda: view.overview is not None, timeout=20, what="the sessions and an overview")
    return view


def table_lines(screen: str) -> list[str]:
    """The lines of the sessions table as shown, from its header to the export line below it, blank ones left out."""
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if "started UTC" in line)
    end = next(i for i, line in enumerate(lines) if "Export as" in line)
    return [line for line in lines[start:end] if line.strip()]


def test_at_80x24_names_whole_five_rows_help_and_the_format_chosen_from_the_keyboard(six_logged):
    infos, rows = logged_rows()

    async def scenario() -> None:
        app = EmotuiApp(Settings())
        async with app.run_test(size=(80, 24)) as pilot:
            view = await open_sessions(app, pilot)
            table = app.query_one("#sessions-table", DataTable)
            assert app.focused is table
            for session in six_logged:  # source and model whole, the columns beside them as narrow as their text
                cells = [str(c) for c in table.get_row(session)]
                assert cells[5:] == [source_name(infos[session].source), infos[session].model_id]
            screen = await shown(pilot)
            shown_rows = table_lines(screen)[1:]
            assert len(shown_rows) >= 5 and all(" clean " in line for line in shown_rows), screen
            assert sum(LONG_NAME in line for line in shown_rows) == 1, screen  # the list scrolls to the 6th
            assert all(infos[six_logged[0]].model_id in line for line in shown_rows)
            assert "? Help" in screen.splitlines()[-1], screen
            assert all(len(line.rstrip()) <= 80 for line in screen.splitlines())

            await pilot.press("down")  # the second newest session, then Tab to its format
            chosen = six_logged[-2]
            await wait_until(pilot, lambda: view.overview.info.id == chosen, what="the second newest session")
            select = app.query_one("#export-format", Select)
            blurred = select.query_one(SelectCurrent).styles.background
            await pilot.press("tab")
            assert app.focused is select
            assert select.query_one(SelectCurrent).styles.background != blurred  # the focus is seen
            await pilot.press("enter")
            await wait_until(pilot, lambda: select.expanded, what="the list of formats")
            await pilot.press("down", "down", "enter")  # csv -> jsonl -> parquet
            await wait_until(pilot, lambda: select.value == "parquet", what="parquet chosen")
            field = app.query_one("#export-path", Input)
            await wait_until(pilot, lambda: field.value.endswith(f"session-{chosen}.parquet"), what="the path")

            field_blurred = field.styles.background
            await pilot.press("tab")
            assert app.focused is field and field.styles.background != field_blurred
            await pilot.press("tab")
            assert isinstance(app.focused, Button) and "Export (X)" in await shown(pilot)
            await pilot.press("enter")
            out = config.data_dir() / "exports" / f"session-{chosen}.parquet"
            await wait_until(pilot, lambda: app.last_export == out, timeout=20, what="the parquet export")
            exported = pq.read_table(out)
            assert exported.num_rows == rows[chosen] and set(exported["session"].to_pylist()) == {chosen}
            assert rows[chosen] != rows[six_logged[-1]]  # the rows tell the two sessions apart

    run(scenario())


async def palette(pilot, command: str) -> None:  # noqa: ANN001
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*command)  # letters go to the palette's search field
    await pilot.pause(0.3)
    await pilot.press("enter")


def test_at_120x40_the_palette_exports_the_highlighted_session_not_the_monitors(six_logged):
    infos, rows = logged_rows()

    async def scenario() -> None:
        app = EmotuiApp(Settings())
        async with app.run_test(size=(120, 40)) as pilot:
            view = await open_sessions(app, pilot)
            screen = await shown(pilot)
            assert len(table_lines(screen)) == 1 + 6 and "? Help" in screen.splitlines()[-1], screen
            assert sum(LONG_NAME in line and infos[six_logged[1]].model_id in line for line in screen.splitlines()) == 1

            await pilot.press("down", "down", "down")
            chosen = six_logged[-4]
            await wait_until(pilot, lambda: view.overview.info.id == chosen, what="the fourth newest session")
            await palette(pilot, "export session as jsonl")
            out = config.data_dir() / "exports" / f"session-{chosen}.jsonl"
            await wait_until(pilot, lambda: app.last_export == out, timeout=20, what="the jsonl export")
            records = [json.loads(line) for line in out.read_text().splitlines()]
            assert len(records) == rows[chosen] and {r["session"] for r in records} == {chosen}
            assert app.query_one("#export-format", Select).value == "jsonl"  # the line shows what was written

            # Elsewhere the palette exports the monitor's session: there is none, and it says so.
            await pilot.press("1")
            await palette(pilot, "export session as parquet")
            await wait_until(pilot, lambda: any("press w to watch first" in n for n in notifications(app)),
                             what="the monitor's session asked for")
            assert app.last_export == out

    run(scenario())


def test_at_80x24_a_long_source_path_takes_a_line_of_its_own(predictor, tmp_path):  # noqa: ANN001
    folder = tmp_path / "videos recorded at the clinic" / "second week of interviews, morning"
    folder.mkdir(parents=True)
    video = folder / "interview-recorded-on-the-seventh.mp4"
    video.write_bytes((MEDIA / "single_face.mp4").read_bytes())
    with LogStore(config.log_db_path()) as store:
        session = run_monitor(video, predictor=predictor, store=store, interval=0, fast=True, frames=3).session
    model = logged_rows()[0][session].model_id

    async def scenario() -> None:
        app = EmotuiApp(Settings())
        async with app.run_test(size=(80, 24)) as pilot:
            await open_sessions(app, pilot)
            lines = (await shown(pilot)).splitlines()
            title = lines[next(i for i, line in enumerate(lines) if "Export as" in line) + 1:][:3]
            assert title[0].split() == [session, "clean", "(frames)"]
            assert title[1].split() == ["model", model]  # whole, on a line of its own
            source = title[2].strip()
            assert source.startswith(f"source {str(folder)[:10]}") and source.endswith(f"/{video.name}"), title
            assert "…" in source and len(f"source {video}") > 78  # too long for the line: its middle left out
            assert app.query_one("#session-chart").region.height >= 10 and "? Help" in lines[-1]

    run(scenario())
