"""Helpers for the dashboard's Pilot tests (not a test module)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable

from rich.console import Console
from textual.widgets import Static


async def wait_until(pilot, condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.05)


def screen_text(app) -> str:  # noqa: ANN001
    """What the terminal shows, as plain text (App.export_screenshot's rendering, exported as text)."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True,
                      legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def plots_settled(pilot, timeout: float = 10.0) -> None:  # noqa: ANN001
    """Charts are built in threads: wait until every visible one shows its latest data."""
    from emotui.tui.charts import CachedPlot

    await pilot.pause()
    await wait_until(pilot, lambda: all(p.settled for p in pilot.app.query(CachedPlot) if p.region.area),
                     timeout, what="charts")


async def tables_settled(pilot, timeout: float = 10.0) -> None:  # noqa: ANN001
    """Tables that follow their newest row scroll to it after a refresh: wait until each visible one has."""
    from emotui.tui.charts import BatchedTable

    def followed(table: BatchedTable) -> bool:
        return not table.pending and (not table.region.area or table.scroll_y >= table.max_scroll_y)

    await wait_until(pilot, lambda: all(followed(t) for t in pilot.app.query(BatchedTable)), timeout,
                     what="tables scrolled to their newest row")


async def shown(pilot) -> str:  # noqa: ANN001
    """The screen once pending repaints (charts and table scrolls included) are done."""
    await plots_settled(pilot)
    await tables_settled(pilot)
    await pilot.pause()
    return screen_text(pilot.app)


def text_of(app, selector: str) -> str:  # noqa: ANN001
    return str(app.query_one(selector, Static).render())


def notifications(app) -> list[str]:  # noqa: ANN001
    return [f"{n.title} {n.message}" for n in app._notifications]


def run(coro) -> None:  # noqa: ANN001
    asyncio.run(coro)


async def start_watching(app, pilot):  # noqa: ANN001, ANN201
    """Press w and wait for the monitor's first real prediction; returns the monitor pane."""
    from emotui.tui.monitor_pane import MonitorPane

    monitor = app.query_one(MonitorPane)
    await pilot.press("w")
    await wait_until(pilot, lambda: monitor.rows > 0 or monitor.headline == "failed", timeout=60,
                     what="a first prediction from the default model")
    assert monitor.running, notifications(app)
    return monitor
