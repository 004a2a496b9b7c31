"""`emotui watch` without --headless opens the dashboard on its monitor pane, already watching that source."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from textual.widgets import Input, TabbedContent

from emotui.cli import cli
from emotui.live.logstore import LogStore
from emotui.tui.app import EmotuiApp
from emotui.tui.monitor_pane import MonitorPane

from ..conftest import MEDIA
from ..tui_helpers import notifications, run, shown, wait_until

VIDEO = str(MEDIA / "single_face.mp4")


def _settings_of(monkeypatch, *args: str):  # noqa: ANN202
    import emotui.tui.app as app_module

    opened = []
    monkeypatch.setattr(app_module, "run_app", opened.append)
    result = CliRunner().invoke(cli, ["watch", *args])
    assert result.exit_code == 0, result.output
    (settings,) = opened
    return settings


@pytest.mark.slow
def test_watch_opens_the_dashboard_watching_the_source(monkeypatch):
    settings = _settings_of(monkeypatch, "--source", VIDEO, "--interval", "0")
    assert (settings.source, settings.interval, settings.model, settings.watch) == (VIDEO, 0.0, None, True)

    async def scenario() -> None:
        app = EmotuiApp(settings)
        async with app.run_test(size=(100, 30)) as pilot:
            monitor = app.query_one(MonitorPane)
            assert app.query_one(TabbedContent).active == "monitor"
            assert app.query_one("#source", Input).value == VIDEO
            await wait_until(pilot, lambda: monitor.headline in ("ended", "failed"), timeout=120, what="watching")
            assert monitor.headline == "ended", notifications(app)
            assert monitor.rows > 0 and monitor.interval == 0.0
            screen = await shown(pilot)
            assert f"session {monitor.session}" in screen
            ends = [n for n in notifications(app) if "ended" in n]  # told once, with what the user can do next
            assert ends == [f"watching ended source ended: {monitor.rows} frames analysed; "
                            f"x exports session {monitor.session}"], ends
        with LogStore(read_only=True) as store:
            assert store.session(monitor.session).frames == monitor.rows  # one face per frame in this video

    run(scenario())


def test_watch_passes_the_model_and_log_to_the_dashboard(monkeypatch, tmp_path):
    from emotui.config import default_model_dir

    monkeypatch.setenv("EMOTUI_DB", "restored after the test")  # the command sets it for the dashboard's jobs
    settings = _settings_of(monkeypatch, "--source", VIDEO, "--interval", "2", "--model", str(default_model_dir()),
                            "--db", str(tmp_path / "log.db"))
    assert (settings.interval, settings.model, settings.watch) == (2.0, default_model_dir(), True)
    import os

    assert os.environ["EMOTUI_DB"] == str(tmp_path / "log.db")


@pytest.mark.parametrize("args,message", [
    (["--source", "nothing.mp4"], "no such file, folder, camera or stream: nothing.mp4"),
    (["--source", VIDEO, "--json"], "--json only with --headless"),
    (["--source", VIDEO, "--frames", "3", "--fast"], "--frames, --fast only with --headless"),
])
def test_dashboard_watch_mistakes_are_one_line_before_the_screen_opens(args, message):
    done = subprocess.run([sys.executable, "-m", "emotui", "watch", *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.startswith("emotui: error: ") and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_dashboard_watches_with_the_prior_it_was_given(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOTUI_DB", str(tmp_path / "log.db"))
    settings = _settings_of(monkeypatch, "--source", VIDEO, "--interval", "0", "--prior", "balanced")
    assert settings.prior == "balanced"

    async def scenario() -> None:
        app = EmotuiApp(settings)
        async with app.run_test(size=(100, 30)) as pilot:
            monitor = app.query_one(MonitorPane)
            await wait_until(pilot, lambda: monitor.session is not None and monitor.rows > 0, timeout=120,
                             what="a frame analysed")
            session = monitor.session
            await pilot.press("w")  # stop watching
        with LogStore(read_only=True) as store:
            assert store.session(session).settings["prior"] == "balanced"

    run(scenario())
