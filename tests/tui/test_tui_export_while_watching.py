"""Exporting (x) again and again while the monitor logs a real video: the writer keeps going, every export holds
the rows logged so far, and quitting afterwards still releases the video within a second."""

from __future__ import annotations

import csv
import threading
import time

import pytest

from emotui.live.logstore import LogStore
from emotui.tui.app import EmotuiApp, Settings, finish_jobs

from ..conftest import MEDIA
from ..tui_helpers import notifications, run, start_watching, wait_until

VIDEO = MEDIA / "WolfgangLanger_Pexels.mp4"  # 20 s at its real rate: still playing through the exports
EXPORTS = 6


@pytest.mark.slow
def test_exports_never_stall_the_monitor_and_quit_stays_prompt():
    async def scenario() -> None:
        app = EmotuiApp(Settings(source=str(VIDEO), interval=0.0))
        async with app.run_test(size=(100, 30)) as pilot:
            monitor = await start_watching(app, pilot)
            exported = 0
            for _ in range(EXPORTS):
                rows_before = monitor.rows
                seen = {id(n) for n in app._notifications}  # older notices expire, so count only new ones
                await pilot.press("x")
                await wait_until(pilot, lambda: any(id(n) not in seen and n.title == "session exported"
                                                    for n in app._notifications), timeout=20, what="the export")
                exported += 1
                with app.last_export.open() as fh:
                    assert len(list(csv.DictReader(fh))) >= rows_before  # the rows logged so far, none lost
                # The writer goes on after the export: new predictions keep arriving.
                await wait_until(pilot, lambda: monitor.rows > rows_before, timeout=10,
                                 what=f"predictions after export {exported}")
            assert monitor.running, "the video was expected to be still playing"
            assert not [n for n in notifications(app) if "failed" in n], notifications(app)

            started = time.monotonic()
            await pilot.press("q")
            assert monitor.job_done.wait(1.0), "the monitor thread still holds the video after 1 s"
            assert time.monotonic() - started < 1.5
        with LogStore(read_only=True) as store:
            info = store.session(monitor.session)
        assert info.status == "clean" and info.frames >= EXPORTS

    run(scenario())


def test_the_process_waits_for_slow_job_threads_only_a_bounded_time():
    stuck, done = threading.Event(), threading.Event()
    done.set()
    started = time.monotonic()
    assert finish_jobs([done], 5.0)
    assert not finish_jobs([done, stuck], 0.3)
    assert time.monotonic() - started < 1.0


def test_a_read_only_log_never_writes_and_says_when_there_is_none(tmp_path):
    from emotui.errors import EmotuiError

    with pytest.raises(EmotuiError, match="no prediction log"):
        LogStore(tmp_path / "none.db", read_only=True)
    with LogStore(tmp_path / "log.db") as writer:
        session = writer.start_session(source="test")
        with LogStore(tmp_path / "log.db", read_only=True) as reader:
            assert [s.id for s in reader.sessions()] == [session]
            with pytest.raises(Exception, match="readonly|query_only|read-only"):
                reader.end_session(session)
