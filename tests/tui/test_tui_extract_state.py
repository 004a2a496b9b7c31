"""The extract pane opened on a dataset extracted earlier (a REAL extraction of photos from ../shared)
shows what its features file holds, and a new dataset typed in starts from clean tallies."""

from __future__ import annotations

import csv

import pytest
from textual.widgets import DataTable, Input, ProgressBar

from emotui.data.extraction import run_extraction
from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.extract_pane import ExtractPane
from emotui.tui.train_pane import TrainPane

from ..conftest import DATASETS, MEDIA
from ..tui_helpers import run, text_of, wait_until

OTHER = DATASETS / "muxspace-fe"  # never extracted in this test's data folder
LABELS = {"Anger": "anger", "Disgust": "disgust", "Fear": "fear", "Happy": "happy", "Neutral": "neutral",
          "Sad": "sad", "Surprised": "surprise"}


@pytest.fixture
def dataset(tmp_path):  # noqa: ANN001, ANN201
    """A manifest dataset: one person's 7 photos from the kaggle-layout sample, a landscape (no face) and an
    empty file (unreadable)."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "empty.jpg").write_bytes(b"")
    rows = [(DATASETS / "kaggle-layout-sample" / "images" / "0" / f"{name}.JPG", label) for name, label in LABELS.items()]
    rows += [(MEDIA / "free-mountain-vector-01.jpg", "happy"), (folder / "empty.jpg", "sad")]
    with open(folder / "manifest.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("path", "label"), *rows])
    return folder


@pytest.fixture
def extracted(dataset):  # noqa: ANN001, ANN201
    """The dataset extracted by the product's pipeline into its default features file (this test's data folder)."""
    return run_extraction(dataset, workers=1)


def test_reopening_shows_the_earlier_extraction_and_a_new_path_resets_the_tallies(dataset, extracted):  # noqa: ANN001
    skipped = extracted.total - extracted.by_status["ok"]
    assert extracted.by_status.get("no_face") and extracted.by_status.get("unreadable")

    async def scenario() -> None:
        app = EmotuiApp(Settings(data=dataset))
        async with app.run_test(size=(80, 24)) as pilot:
            pane = app.query_one(ExtractPane)
            rate = lambda: text_of(app, "#extract-rate")  # noqa: E731
            await wait_until(pilot, lambda: "extracted earlier" in rate(), timeout=20, what="the earlier state")
            assert f"{extracted.total}/{extracted.total} images, {extracted.faces} faces, {skipped} skipped" in rate()
            assert "press e to extract" not in rate()
            bar = app.query_one("#extract-progress", ProgressBar)
            assert bar.progress == bar.total == extracted.total
            tallies = text_of(app, "#tallies")
            assert f"ok {extracted.by_status['ok']}" in tallies
            assert f"no face {extracted.by_status.get('no_face', 0)}" in tallies
            failures = app.query_one("#failures", DataTable)
            assert failures.row_count == skipped
            assert "empty.jpg" in str(failures.get_row_at(failures.row_count - 1)[2])  # named under the dataset
            assert pane.headline == "done"
            # the header hears of it by message, a moment after the pane
            await wait_until(pilot, lambda: "extract: done" in app.sub_title, timeout=10, what="the header's state")
            assert app.query_one(TrainPane).features == [pane.features]

            # Another dataset: nothing of the sample's figures stays.
            field = app.query_one("#dataset", Input)
            field.focus()
            field.value = str(OTHER)
            await pilot.press("enter")
            await wait_until(pilot, lambda: "reading" not in text_of(app, "#layout"), timeout=30, what="the new layout")
            await app.workers.wait_for_complete()
            assert "press e to extract" in rate()
            assert bar.progress == 0 and failures.row_count == 0
            assert "ok 0" in text_of(app, "#tallies") and "no face 0" in text_of(app, "#tallies")
            assert pane.headline == "idle" and "extract: idle" in app.sub_title

            # And back: the sample's state again.
            field.focus()
            field.value = str(dataset)
            await pilot.press("enter")
            await wait_until(pilot, lambda: "extracted earlier" in rate(), timeout=20, what="the first dataset again")
            assert failures.row_count == skipped

    run(scenario())
