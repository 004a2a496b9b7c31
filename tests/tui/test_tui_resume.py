"""Extracting a dataset that is already extracted shows what the features file holds, not an empty run."""

from __future__ import annotations

import pytest

from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.extract_pane import ExtractPane

from ..conftest import DATASETS
from ..tui_helpers import notifications, run, text_of, wait_until

SAMPLE = DATASETS / "kaggle-layout-sample"


@pytest.mark.slow
def test_a_second_extraction_shows_the_whole_file():
    async def scenario() -> None:
        app = EmotuiApp(Settings(data=SAMPLE))
        async with app.run_test(size=(100, 30)) as pilot:
            extract = app.query_one(ExtractPane)
            for _ in range(2):
                before = extract.job_done
                await pilot.press("e")
                await wait_until(pilot, lambda: extract.job_done is not before and extract.job_done.is_set()
                                 and extract.headline in ("done", "failed"), timeout=300, what="extraction")
                await pilot.pause(0.2)
                assert extract.headline == "done", notifications(app)
                tallies = text_of(app, "#tallies")
            assert "ok 49" in tallies.replace("  ", " ")
            assert "49/49  (49 done before, 0 now)" in text_of(app, "#extract-rate")

    run(scenario())
