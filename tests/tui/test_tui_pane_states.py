"""SVG snapshots of the train and monitor panes at 80x24 (the design size) and 120x40, in each state: idle,
running, finished, failed; filled by the stand-in jobs (tests/tui/job_states.py holds them running or fails them).

Update after an intended change of the look: pytest tests/tui/test_tui_pane_states.py --snapshot-update
"""

from __future__ import annotations

import pytest

from emotui.tui.extract_pane import ExtractPane
from emotui.tui.models_view import NewModelScreen
from emotui.tui.monitor_pane import MonitorPane
from emotui.tui.standins import StandIns
from emotui.tui.train_pane import TrainPane

from ..tui_helpers import plots_settled, tables_settled, wait_until
from .job_states import failing, running
from .test_tui_snapshots import make_app, run_job, settle

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
STATES = pytest.mark.parametrize("state", ["idle", "running", "finished", "failed"])
JOBS = {"idle": lambda jobs: jobs, "finished": lambda jobs: jobs, "running": running, "failed": failing}


async def _settle(pilot, state: str, pane) -> None:
    """As test_tui_snapshots.settle, but a running job is not waited for: it runs until the app closes."""
    if state != "running":
        await settle(pilot)
        return
    await pilot.pause(1.2)  # tables and charts follow a running job at most once a second
    pilot.app.clear_notifications()
    await pilot.wait_for_scheduled_animations()
    await plots_settled(pilot)
    await tables_settled(pilot)
    await pilot.pause(0.1)
    assert pilot.app.query_one(pane).running


async def _show_train(pilot, state: str) -> None:
    await run_job(pilot, "e", ExtractPane)
    pane = pilot.app.query_one(TrainPane)
    if state == "idle":
        await pilot.press("2")
    else:
        await pilot.press("t")
        ended = {"running": "epoch 20/20", "finished": "done", "failed": "failed"}[state]
        await wait_until(pilot, lambda: pane.headline == ended, what=f"training {state}")
        if state == "finished":
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, NewModelScreen), what="the question")
            await pilot.press("k")


async def _show_monitor(pilot, state: str) -> None:
    pane = pilot.app.query_one(MonitorPane)
    if state == "idle":
        await pilot.press("3")
        return
    await pilot.press("w")
    ended = {"running": "neutral 60%", "finished": "ended", "failed": "failed"}[state]
    await wait_until(pilot, lambda: pane.headline == ended and pane.rows in (0, 8), what=f"watching {state}")


@SIZES
@STATES
def test_train_pane(snap_compare, size, state):
    async def run_before(pilot) -> None:
        await _show_train(pilot, state)
        await _settle(pilot, state, TrainPane)

    app = make_app(JOBS[state](StandIns(frames=6).jobs()))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@SIZES
@STATES
def test_monitor_pane(snap_compare, size, state):
    async def run_before(pilot) -> None:
        await _show_monitor(pilot, state)
        await _settle(pilot, state, MonitorPane)

    app = make_app(JOBS[state](StandIns(frames=6).jobs()))
    assert snap_compare(app, terminal_size=size, run_before=run_before)
