"""`emotui` with no subcommand opens the dashboard with its options; `emotui serve` serves it on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from emotui.cli import cli
from emotui.commands.serve import dashboard_command

from .conftest import DATASETS, MEDIA

SAMPLE = DATASETS / "kaggle-layout-sample"


def test_no_subcommand_opens_the_dashboard_with_its_options(monkeypatch):
    import emotui.tui.app as app_module

    opened = []
    monkeypatch.setattr(app_module, "run_app", opened.append)
    source = str(MEDIA / "single_face.mp4")
    result = CliRunner().invoke(cli, ["--data", str(SAMPLE), "--source", source, "--interval", "1"])
    assert result.exit_code == 0, result.output
    (settings,) = opened
    assert (settings.data, settings.source, settings.model, settings.interval) == (SAMPLE, source, None, 1.0)


def test_bad_dashboard_options_are_one_line_errors(tmp_path):
    for args, message in ((["--data", str(tmp_path / "nope")], "no such folder"),
                          (["--model", str(tmp_path / "nope")], "no such model directory"),
                          (["--interval", "-2"], "--interval must be >= 0"),
                          (["--landmarker", str(tmp_path / "nope.task")], "--landmarker")):
        done = subprocess.run([sys.executable, "-m", "emotui", *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert done.stderr.strip().count("\n") == 0 and message in done.stderr, done.stderr
        assert done.stderr.startswith("emotui: error: ")


def test_serve_forwards_the_dashboard_options():
    command = dashboard_command({"data": Path("my data"), "source": "0", "model": None, "interval": 1.0,
                                 "landmarker": Path("/m/face_landmarker.task")})
    assert command.endswith("-m emotui --data 'my data' --source 0 --interval 1.0 "
                            "--landmarker /m/face_landmarker.task")


def test_the_dashboards_landmarker_is_the_one_extraction_uses(tmp_path, monkeypatch):
    """`emotui --landmarker PATH` reaches the real extraction: a wrong file there fails it, naming the file,
    although $EMOTUI_LANDMARKER (set for the tests) names a good one."""
    import emotui.tui.app as app_module
    from emotui.tui.app import EmotuiApp
    from emotui.tui.extract_pane import ExtractPane

    from .tui_helpers import notifications, run, text_of, wait_until

    wrong = tmp_path / "face_landmarker.task"
    wrong.write_bytes(b"not a model")
    dataset = tmp_path / "faces"
    (dataset / "happy").mkdir(parents=True)
    (dataset / "happy" / "one.jpg").symlink_to(MEDIA / "single_face.jpg")
    opened = []
    monkeypatch.setattr(app_module, "run_app", opened.append)
    result = CliRunner().invoke(cli, ["--data", str(dataset), "--landmarker", str(wrong)])
    assert result.exit_code == 0, result.output
    (settings,) = opened
    assert settings.landmarker == wrong.resolve()

    async def scenario() -> None:
        app = EmotuiApp(settings)
        async with app.run_test(size=(120, 30)) as pilot:
            extract = app.query_one(ExtractPane)
            await wait_until(pilot, lambda: "1 images" in text_of(app, "#layout"), timeout=30, what="layout")
            await pilot.press("e")
            await wait_until(pilot, lambda: extract.headline in ("done", "failed"), timeout=60, what="extraction")
            assert extract.headline == "failed", notifications(app)
            assert str(wrong) in text_of(app, "#extract-rate") or any(str(wrong) in n for n in notifications(app))

    run(scenario())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_on_loopback_only():
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "emotui", "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, page = time.monotonic() + 30, None
        while page is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    page = (response.status, response.read().decode())
            except OSError:
                time.sleep(0.2)
        assert page is not None, f"no answer on port {port}"
        status, body = page
        assert status == 200 and "emotui" in body and "ws://127.0.0.1" in body
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        assert [line.split()[3] for line in listening.splitlines()] == [f"127.0.0.1:{port}"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
