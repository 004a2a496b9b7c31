"""Names that look like markup (`[`, `[/]`, `[bold]`, `[link=http://x]`, Textual's `[$x]`) in every pane and
notification of the dashboard, shown as they read: no MarkupError (which would end the app), no style eating them
(issue 30). The stand-in jobs hand the panes such names wherever a user's would appear: the dataset, its layout
error, skipped images, the features and model files, the source and its messages, the labels, the sessions, the
models, an export's path and a failed job's error."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from textual.widgets import DataTable

from emotui.errors import EmotuiError
from emotui.events import Finished, ItemFailed, Prediction, Progress, SourceState
from emotui.labels import CLASSES
from emotui.learn.model_catalog import ModelEntry
from emotui.live.log_readers import SessionInfo
from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.help_screen import HelpScreen
from emotui.tui.models_view import ModelsScreen, NewModelScreen
from emotui.tui.monitor_pane import MonitorPane
from emotui.tui.standins import StandIns
from emotui.tui.train_pane import TrainPane

from ..tui_helpers import run, screen_text, text_of, wait_until

NAME = "a[/]b [bold]c [link=http://x]d[ [$x] e"  # what each pane must show, literally
FILE = "][bold]c [link=x]d[ [$x] e"  # a file's own name holds no /: in a folder `a[` its path reads a[/][bold]...


def _cells(app, selector: str) -> str:  # noqa: ANN001
    """The table's cells as DataTable draws them (strings are read as rich markup)."""
    from textual.widgets._data_table import default_cell_formatter

    table = app.query_one(selector, DataTable)
    return " ".join(default_cell_formatter(cell).plain for key in table.rows for cell in table.get_row(key))


def hostile_jobs(tmp_path: Path):  # noqa: ANN001, ANN201
    stand_ins = StandIns(frames=3)
    base = stand_ins.jobs()

    def discover(dataset: Path):  # noqa: ANN202
        if "refused" in str(dataset):
            raise EmotuiError(f"no dataset layout in {NAME}")
        return dataclasses.replace(base.discover(dataset), layout=NAME)

    def extract(dataset: Path, *, on_event, stop) -> Path:  # noqa: ANN001
        on_event(ItemFailed("extract", f"{dataset}/{NAME}.jpg", "unreadable", f"cannot decode {NAME}"))
        on_event(Progress("extract", 1, 1, 1.0, 0.0, {"unreadable": 1}))
        on_event(Finished("extract", {"counts": {"unreadable": 1}}))
        raise EmotuiError(f"cannot write {NAME}.parquet")

    def train(features, out, *, on_event, stop, on_warning=None, **settings) -> Path:  # noqa: ANN001, ANN003
        on_warning(f"left out 3 faces of {NAME}")
        raise EmotuiError(f"{NAME} holds no faces")

    def watch(source: str, *, model_dir, interval, on_event, stop) -> dict:  # noqa: ANN001
        on_event(SourceState("retrying", f"cannot read {source}"))
        probs = {c: 1 / len(CLASSES) for c in CLASSES}
        on_event(Prediction("2026-01-01T00:00:00.000Z", NAME, 0, 1, NAME, 0.9, probs, probs, (1.0, 2.0, 30.0, 40.0),
                            {"total": 3.0}))
        on_event(Finished("watch", {"reason": NAME, "frames_analysed": 1, "session": NAME}))
        return {"session": NAME}

    def sessions() -> list:
        return [SessionInfo(NAME, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:01:00.000000Z", NAME, NAME, None,
                            {}, True, NAME, 1, 1, 0)]

    def export(session: str, fmt: str, out: Path) -> Path:
        if fmt == "jsonl":
            raise EmotuiError(f"cannot write {out}: disk full")
        return out

    entry = ModelEntry(tmp_path / NAME, NAME, model_id=NAME, data=((NAME, 3),), problem=f"{NAME} is damaged")
    return dataclasses.replace(base, discover=discover, extract=extract, train=train, watch=watch, sessions=sessions,
                               session_overview=lambda s: None, export=export, models=lambda also: [entry],
                               describe_model=lambda path: entry, new_model_dir=lambda: tmp_path / NAME)


def test_every_pane_shows_markup_like_names_as_they_read(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOTUI_DATA", str(tmp_path / NAME))
    jobs = hostile_jobs(tmp_path)

    async def scenario() -> None:
        app = EmotuiApp(Settings(data=tmp_path / "refused" / NAME, source=NAME, model=tmp_path / "a[" / FILE),
                        jobs=jobs)
        async with app.run_test(size=(200, 50)) as pilot:
            # extraction: a layout error, then a layout, a skipped image, the job's error
            await wait_until(pilot, lambda: NAME in text_of(app, "#layout"), what="the layout error")
            app.query_one("#dataset").value = str(tmp_path / NAME)
            app.query_one("#dataset").focus()
            await pilot.press("enter")
            await wait_until(pilot, lambda: f"layout: {NAME}" in text_of(app, "#layout"), what="the layout")
            await pilot.press("e")
            await wait_until(pilot, lambda: f"{NAME}.parquet" in text_of(app, "#extract-rate"), what="its error")
            app.query_one("#failures", DataTable).refresh()
            assert f"cannot decode {NAME}" in _cells(app, "#failures")

            # training: the features' names, a warning, the job's error
            app.query_one(TrainPane).use_features([tmp_path / "a[" / f"{FILE}.parquet"])
            assert f"features: {FILE}.parquet" in text_of(app, "#train-status")
            await pilot.press("t")
            await wait_until(pilot, lambda: f"{NAME} holds no faces" in text_of(app, "#train-status"),
                             what="the training error")

            # the monitor: the model's name, the source's messages, a label, the end's reason
            monitor = app.query_one(MonitorPane)
            model_name = text_of(app, "#model-name")  # shortened in the middle to its box
            assert model_name.startswith(FILE[:7]) and model_name.endswith(FILE[-8:])
            await pilot.press("w")
            await wait_until(pilot, lambda: not monitor.running and monitor.rows, what="the watch")
            await pilot.pause(0.3)
            assert NAME.upper() in text_of(app, "#big-label") and NAME in text_of(app, "#monitor-status")
            app.query_one("#recent").flush()
            assert NAME in _cells(app, "#recent") and NAME in _cells(app, "#tracks")

            # sessions: the list, the export's path, a failed export
            await pilot.press("s")
            await wait_until(pilot, lambda: app.query_one("#sessions-table", DataTable).row_count,
                             what="the sessions")
            for fmt in ("csv", "jsonl"):  # one at a time: a second export replaces one still running
                app.export_session(NAME, fmt, tmp_path / f"{NAME}.{fmt}")
                out = str(tmp_path / f"{NAME}.{fmt}")
                await wait_until(pilot, lambda out=out: any(out in n.message for n in app._notifications),
                                 what=f"the {fmt} export's notification")
            assert NAME in _cells(app, "#sessions-table")

            # the models view, the question after training, the help's paths
            app.action_models()
            await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen) and app.screen.entries,
                             what="the models")
            await pilot.pause()
            assert NAME in _cells(app.screen, "#models-table")
            await pilot.press("enter")  # a model with a problem: the notification names it
            assert NAME in text_of(app.screen, "#model-details")
            await pilot.press("escape")
            entry = jobs.describe_model(None)
            app.push_screen(NewModelScreen(entry, entry))
            await pilot.pause()
            assert str(app.screen.query_one("#keep").label) == f"k  keep {NAME[:7]}…{NAME[-14:]}"  # cut to fit
            assert NAME in screen_text(app)  # the comparison table
            app.screen.dismiss(False)
            app.push_screen(HelpScreen())
            await pilot.pause()
            shown = screen_text(app)
            app.screen.dismiss()
            await pilot.pause()

            messages = [n for n in app._notifications]
            assert all(not n.markup for n in messages)
            assert any(f"left out 3 faces of {NAME}" == n.message for n in messages)
            assert any(str(tmp_path / f"{NAME}.csv") == n.message for n in messages)
            assert "Keys" in shown  # the help drew (its Files rows: the test below)
        # leaving the block re-raises whatever failed in the app: a MarkupError would be here

    run(scenario())


def test_the_help_names_the_data_folders_as_they_read(tmp_path, monkeypatch):
    """The help's Files table, as its Static draws it (rich markup), at a width where nothing folds."""
    import io

    from rich.console import Console

    from emotui.tui.help_screen import help_content

    monkeypatch.setenv("EMOTUI_DATA", str(tmp_path / NAME))
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(help_content())
    text = console.export_text()
    assert f"{tmp_path / NAME} (EMOTUI_DATA)" in text and str(tmp_path / NAME / "exports") in text
