"""Charts are built off the UI thread, one picture at a time: data arriving faster than pictures are built is
drawn once, and the picture shown is the latest data's."""

from __future__ import annotations

from pathlib import Path

from emotui.tui.app import EmotuiApp, Settings
from emotui.tui.charts import LineChart
from emotui.tui.standins import StandIns

from ..tui_helpers import plots_settled, run


def _series(k: int) -> tuple[dict, dict]:
    x = [float(i) for i in range(20)]
    return {"happy": x}, {"happy": [((i * (k + 3)) % 20) / 20 for i in range(20)]}


def _picture(chart: LineChart) -> list[str]:
    return [strip.text for strip in chart._built[1]]


def test_a_burst_of_updates_is_built_a_few_times_and_shows_the_last():
    async def go() -> None:
        app = EmotuiApp(Settings(data=Path("datasets/sample"), source="0"), jobs=StandIns(frames=0).jobs())
        async with app.run_test(size=(120, 40)) as pilot:
            app.action_show_pane("monitor")
            await plots_settled(pilot)
            chart = app.query_one("#history-chart", LineChart)
            before = chart.builds
            for k in range(50):  # 50 frames' worth of data in one go, as a busy job's events come in a batch
                chart.draw(*_series(k), legend=False)
            await plots_settled(pilot)
            built = chart.builds - before
            assert 1 <= built <= 3, f"{built} pictures built for 50 updates"
            burst = _picture(chart)
            chart.draw(*_series(49), legend=False)  # the last data alone, drawn again
            await plots_settled(pilot)
            assert _picture(chart) == burst, "the picture shown is not the last data's"
            chart.draw(*_series(0), legend=False)
            await plots_settled(pilot)
            assert _picture(chart) != burst  # the comparison above can tell pictures apart

    run(go())
