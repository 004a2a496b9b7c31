"""The dashboard's tables: cells shown in full whenever the screen repaints, and the skipped-images table naming
each image by its path under the dataset, with the reason in full (the real core's extraction)."""

from __future__ import annotations

from textual.app import App, ComposeResult

from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.charts import BatchedTable, MeasuredTable
from emotui.tui.extract_pane import ExtractPane

from ..tui_helpers import notifications, run, shown, wait_until


class Tables(App):
    def compose(self) -> ComposeResult:
        yield BatchedTable(id="batched")
        yield MeasuredTable(id="measured")

    def on_mount(self) -> None:
        for table in self.query(MeasuredTable):
            for name in ("status", "why"):
                table.add_column(name, key=name)


def test_cells_added_just_before_a_repaint_are_not_cut():
    # A paint between add_row and the table's idle handler (a busy machine) used to cache the new cells cut to
    # the header's width: "can" for "cannot decode image", for good.
    async def scenario() -> None:
        app = Tables()
        async with app.run_test(size=(80, 12)) as pilot:
            await pilot.pause()
            batched, measured = app.query_one("#batched", BatchedTable), app.query_one("#measured", MeasuredTable)
            batched.queue_row("unreadable", "cannot decode image")
            batched.flush()
            measured.add_row("no_face", "-", key="1")
            measured.update_cell("1", "why", "no face found")
            for table in (batched, measured):
                table.render_line(1)  # what a repaint does before idle
            await pilot.pause(0.2)
            screen = await shown(pilot)
            assert "cannot decode image" in screen and "no face found" in screen, screen

    run(scenario())


def test_skipped_images_show_the_path_under_the_dataset_and_the_whole_reason(tmp_path, monkeypatch):
    # The dataset given relative, as `emotui --data ../shared/...` does, while the core reports absolute paths.
    dataset = tmp_path / "a-dataset-folder-with-a-long-name" / "faces"
    (dataset / "happy").mkdir(parents=True)
    (dataset / "sad").mkdir()
    (dataset / "happy" / "[bold]not-an-image.jpg").write_bytes(b"this is not a jpeg")
    (dataset / "sad" / "empty.png").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    relative = dataset.relative_to(tmp_path)

    async def scenario() -> None:
        app = EmotuiApp(Settings(data=relative, source="0"))
        async with app.run_test(size=(120, 30)) as pilot:
            extract = app.query_one(ExtractPane)
            await wait_until(pilot, lambda: "2 images" in str(app.query_one("#layout").render()), timeout=30,
                             what="layout")
            await pilot.press("e")
            await wait_until(pilot, lambda: extract.headline in ("done", "failed"), timeout=120, what="extraction")
            assert extract.headline == "done", notifications(app)
            screen = await shown(pilot)
            rows = [line.split() for line in screen.splitlines() if line.split()[:1] == ["unreadable"]]
            # The reason without the absolute path the core puts in it, then the image under the dataset.
            assert sorted(rows) == [["unreadable", "empty", "file", "sad/empty.png"],
                                    ["unreadable", "not", "a", "readable", "image", "happy/[bold]not-an-image.jpg"]], screen
            assert str(tmp_path) not in screen

    run(scenario())
