"""The sessions view (s) on a REAL prediction log, made by real watches of ../shared/media/single_face.mp4, read
through the real core: every session with its figures, the highlighted one's history and label shares, and its
export in the chosen format to the chosen place."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from textual.widgets import DataTable, Input, Select

from emotui import config
from emotui.live.logstore import LogStore
from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.charts import LineChart
from emotui.tui.session_columns import session_length
from emotui.tui.sessions_view import SessionsView

from ..conftest import watched_log
from ..tui_helpers import notifications, plots_settled, run, shown, wait_until


@pytest.fixture
def logged(predictor) -> list[str]:  # noqa: ANN001
    """Two sessions in the test's own log: 10 frames, then the whole video."""
    return watched_log(config.log_db_path(), predictor, 10, None)


async def open_sessions(app, pilot) -> SessionsView:  # noqa: ANN001
    view = app.query_one(SessionsView)
    await pilot.press("s")
    await wait_until(pilot, lambda: view.overview is not None, timeout=20, what="the sessions and an overview")
    return view


def test_the_view_lists_every_session_with_its_figures_at_80x24(logged):
    with LogStore(read_only=True) as store:
        infos = {info.id: info for info in store.sessions()}
        counts = store.label_counts(logged[1])

    async def scenario() -> None:
        app = EmotuiApp(Settings())
        async with app.run_test(size=(80, 24)) as pilot:
            view = await open_sessions(app, pilot)
            table = app.query_one("#sessions-table", DataTable)
            assert [str(key.value) for key in table.rows] == logged[::-1]  # newest first
            for session in logged:
                info = infos[session]
                cells = [str(c) for c in table.get_row(session)]
                assert cells[:5] == [info.started[5:16].replace("T", " "), session_length(info.seconds),
                                     str(info.frames), str(info.faces), "clean"]
                assert cells[5:] == ["single_face.mp4", info.model_id]  # whole: the columns beside them are narrow
            assert infos[logged[0]].frames == 10 and infos[logged[1]].frames > 10

            # The newest is highlighted first: its chart and shares.
            assert view.selected == logged[1]
            await plots_settled(pilot)
            screen = await shown(pilot)
            faces = sum(counts.values())
            assert f"label shares of {faces} faces" in screen and logged[1] in screen
            for label, n in counts.items():
                assert f"{label:<8}" in screen and f"{n / faces:4.0%}" in screen
            chart = app.query_one("#session-chart", LineChart)
            assert chart.region.width >= 40 and chart.region.height >= 10
            assert any(0x2800 < ord(ch) <= 0x28FF for ch in screen), "the history chart drew no line"
            assert all(line.rstrip() == line.rstrip()[:80] for line in screen.splitlines())

            await pilot.press("down")  # the older session
            await wait_until(pilot, lambda: view.overview.info.id == logged[0], what="the first session")
            assert len(view.overview.frames) == 10
            assert f"label shares of {infos[logged[0]].faces} faces" in await shown(pilot)

    run(scenario())


def test_exporting_a_chosen_session_in_a_chosen_format_and_place(logged, tmp_path):
    with LogStore(read_only=True) as store:
        rows = {s: len(list(store.rows(session=s))) for s in logged}

    async def scenario() -> None:
        app = EmotuiApp(Settings())
        async with app.run_test(size=(120, 40)) as pilot:
            view = await open_sessions(app, pilot)
            field = app.query_one("#export-path", Input)
            assert field.value == str(config.data_dir() / "exports" / f"session-{logged[1]}.csv")  # the default

            await pilot.press("down")  # the first session, as Parquet, to a file of our choosing
            await wait_until(pilot, lambda: view.overview.info.id == logged[0], what="the first session")
            app.query_one("#export-format", Select).value = "parquet"
            await pilot.pause()
            assert field.value.endswith(f"session-{logged[0]}.parquet")
            chosen = tmp_path / "mine" / "first.parquet"
            field.value = str(chosen)
            await pilot.press("X")
            await wait_until(pilot, lambda: app.last_export == chosen, timeout=20, what="the parquet export")
            table = pq.read_table(chosen)
            assert table.num_rows == rows[logged[0]] and set(table["session"].to_pylist()) == {logged[0]}
            assert any(str(chosen) in n and "session exported" in n for n in notifications(app))

            # A folder as the place: the session's own file name in it; Enter in the field exports.
            await pilot.press("up")
            await wait_until(pilot, lambda: view.overview.info.id == logged[1], what="the second session")
            app.query_one("#export-format", Select).value = "jsonl"
            await pilot.pause()
            assert field.value == str(tmp_path / "mine" / f"session-{logged[1]}.jsonl")  # the chosen folder kept
            field.value = str(tmp_path)
            field.focus()
            await pilot.press("enter")
            out = tmp_path / f"session-{logged[1]}.jsonl"
            await wait_until(pilot, lambda: app.last_export == out, timeout=20, what="the jsonl export")
            records = [json.loads(line) for line in out.read_text().splitlines()]
            assert len(records) == rows[logged[1]] and {r["session"] for r in records} == {logged[1]}

            # x still exports the monitor's current session: there is none here, and it says so.
            await pilot.press("x")
            assert any("press w to watch first" in n for n in notifications(app))

    run(scenario())


def test_an_empty_log_says_how_to_make_a_session():
    async def scenario() -> None:
        app = EmotuiApp(Settings())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("s")
            await pilot.pause(0.5)
            await app.workers.wait_for_complete()
            assert "no sessions yet: press w to watch" in await shown(pilot)
            await pilot.press("X")
            assert any("nothing to export" in n or "no session to export" in n for n in notifications(app))

    run(scenario())


def test_in_a_browser_the_field_names_the_download_not_a_server_path(logged, tmp_path, monkeypatch):
    """Under textual-serve the file goes to the browser: the field offers a file name, and a path typed there
    neither shows nor chooses a place on the server (only its name is used, beside the other exports)."""

    async def scenario() -> None:
        app = EmotuiApp(Settings())
        async with app.run_test(size=(120, 40)) as pilot:
            delivered = []
            monkeypatch.setattr(type(app._driver), "is_web", property(lambda _: True))
            monkeypatch.setattr(app._driver, "deliver_binary",
                                lambda binary, *, save_path, **_: delivered.append((save_path.name, binary.read())))
            view = await open_sessions(app, pilot)
            field = app.query_one("#export-path", Input)
            assert field.value == f"session-{logged[1]}.csv"  # a name, no server folder
            assert "download as" in await shown(pilot) and str(config.data_dir()) not in await shown(pilot)
            field.value = str(tmp_path / ".." / "elsewhere" / "mine.csv")
            await pilot.press("X")
            out = config.data_dir() / "exports" / "mine.csv"
            await wait_until(pilot, lambda: delivered, timeout=20, what="the download")
            assert delivered == [("mine.csv", out.read_bytes())] and app.last_export == out
            assert not (tmp_path.parent / "elsewhere").exists() and view.selected == logged[1]

    run(scenario())
