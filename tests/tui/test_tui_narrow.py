"""The dashboard at 80x24, its smallest promised size: numbers keep their exponent, headers and names read whole,
chart axes count whole epochs and frames."""

from __future__ import annotations

import re
from pathlib import Path

from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.charts import compact_number, integer_ticks
from emotui.tui.extract_pane import ExtractPane
from emotui.tui.fields import shorten_middle
from emotui.tui.models_view import NewModelScreen
from emotui.tui.monitor_pane import MonitorPane
from emotui.tui.standins import StandIns
from emotui.tui.train_pane import TrainPane

from ..tui_helpers import run, screen_text, shown, wait_until

SOURCE = "../some/long/folder/of/videos/WolfgangLanger_Pexels.mp4"


def test_compact_numbers_keep_their_exponent():
    assert [compact_number(x) for x in (8e-4, 7.5e-4, 1e-3, 3e-5, 0.01, 0.5, 0.0)] == \
        ["8e-4", "7.5e-4", "1e-3", "3e-5", "0.01", "0.5", "0"]


def test_integer_ticks():
    assert integer_ticks(1, 20, 6) == [5, 10, 15, 20]
    assert integer_ticks(0, 5, 6) == [0, 1, 2, 3, 4, 5]
    assert integer_ticks(0, 456, 6) == [0, 100, 200, 300, 400]
    assert integer_ticks(0.0, 1.2, 6) == [0, 1, 2]
    assert integer_ticks(3, 3, 6) == [3]


def test_long_model_ids_keep_their_start_and_end():
    name = "ckplus48-muxspace-small-20261124-093000"
    short = shorten_middle(name, 24)
    assert len(short) == 24 and short.startswith("ckplus") and short.endswith("20261124-093000")
    assert shorten_middle("default", 24) == "default"


def _x_ticks(screen: str) -> list[str]:
    """The numbers on the lines under the charts' x axes."""
    lines = screen.splitlines()
    return [n for i, line in enumerate(lines[:-1]) if "└" in line and "┬" in line
            for n in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.%])", lines[i + 1][line.index("└"):])]


def test_train_and_monitor_panes_at_80x24():
    async def scenario() -> None:
        app = EmotuiApp(Settings(data=Path("datasets/sample"), source=SOURCE, interval=1.0),
                        jobs=StandIns(frames=6).jobs())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("e")
            await wait_until(pilot, lambda: app.query_one(ExtractPane).headline == "done", what="extraction")
            await pilot.press("t")
            await wait_until(pilot, lambda: app.query_one(TrainPane).headline == "done", what="training")
            await wait_until(pilot, lambda: isinstance(app.screen, NewModelScreen), what="the new model's question")
            await pilot.press("u")  # the monitor below watches with it
            last_epoch = r"20\*\s+0\.800\s+80\.0%\s+73\.0%\s+65\.0%\s+5e-4\s+1\.5"
            # the epoch table scrolls to its last row once the question's screen has gone
            await wait_until(pilot, lambda: re.search(last_epoch, screen_text(app)), what="the last epoch in view")
            screen = await shown(pilot)
            header = next(line for line in screen.splitlines() if " ep " in line)
            assert header.split()[:7] == ["ep", "loss", "acc", "v.acc", "v.F1", "lr", "s"], screen
            assert re.search(r"20\*\s+0\.800\s+80\.0%\s+73\.0%\s+65\.0%\s+5e-4\s+1\.5", screen), screen
            assert "ang con dis fea hap neu sad sur" in " ".join(screen.split()), screen
            ticks = _x_ticks(screen)
            assert ticks and all(t.isdigit() for t in ticks), (ticks, screen)

            await pilot.press("w")
            monitor = app.query_one(MonitorPane)
            await wait_until(pilot, lambda: monitor.headline == "ended", what="watching")
            app.clear_notifications()
            screen = await shown(pilot)
            assert "WolfgangLanger_Pexels.mp4" in screen and "Model standin-model" in screen, screen
            recent = next(line for line in screen.splitlines() if " time " in line)
            assert recent.split()[:5] == ["time", "frame", "face", "label", "conf"], screen
            ticks = _x_ticks(screen)
            assert ticks and all(t.isdigit() for t in ticks), (ticks, screen)

    run(scenario())
