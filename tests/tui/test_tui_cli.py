"""`emotui` with no subcommand opens the dashboard with its options; `emotui serve` serves it on loopback."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from emotui.cli import cli
from emotui.commands.serve import dashboard_command

from ..conftest import DATASETS, MEDIA
from ..serve_helpers import drop, fetch, free_port, gone_within, raw_websocket, start_cli, stop, wait_children

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

    from ..tui_helpers import notifications, run, text_of, wait_until

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


def test_serve_answers_on_loopback_only_and_with_the_token():
    port = free_port()
    server, url, _ = start_cli("serve", port=port)
    try:
        assert url.startswith(f"http://127.0.0.1:{port}/?token=") and len(url.split("token=")[1]) == 48
        status, body, _ = fetch(url)
        assert status == 200 and "emotui" in body and f"ws://127.0.0.1:{port}/ws" in body
        assert fetch(url.split("?")[0])[0] == 403
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        assert [line.split()[3] for line in listening.splitlines()] == [f"127.0.0.1:{port}"]
    finally:
        stop(server)


def test_serve_on_every_interface_warns_and_builds_urls_from_the_host_header():
    port = free_port()
    server, url, before = start_cli("serve", "--host", "0.0.0.0", port=port)
    try:
        (warning,) = before
        assert warning.startswith("emotui: warning: --host 0.0.0.0 exposes the dashboard to the network")
        assert "token" in warning
        name = socket.gethostname()
        assert url.startswith(f"http://{name}:{port}/?token=")
        token = url.split("token=")[1]
        status, body, _ = fetch(f"http://127.0.0.1:{port}/?token={token}", {"Host": f"{name}:{port}"})
        assert status == 200 and "0.0.0.0" not in body
        assert f"ws://{name}:{port}/ws" in body and f"http://{name}:{port}/static/" in body
        assert fetch(f"http://127.0.0.1:{port}/?token={token}", {"Host": f"rebound.example:{port}"})[0] == 403
    finally:
        stop(server)


def test_a_dashboard_tab_dropped_while_starting_and_the_server_stopped_leave_no_app_process():
    """The real dashboard per tab: dropped before it has drawn, it is gone within seconds; the Ctrl-C of the
    server ends the others and exits 130."""
    port = free_port()
    server, url, _ = start_cli("serve", "--max-sessions", "1", port=port)
    token = url.split("token=")[1]
    try:
        sock, status, _ = raw_websocket(port, f"token={token}&width=100&height=30",
                                        {"Origin": f"http://127.0.0.1:{port}"})
        assert status == 101
        (app,) = wait_children(server.pid, 1)
        assert "emotui" in " ".join(app.cmdline())
        assert raw_websocket(port, f"token={token}")[1] == 503  # --max-sessions 1
        drop(sock)
        assert gone_within([app], 10) == [], "the dashboard outlived its dropped tab"

        deadline = time.monotonic() + 5  # the slot frees once the server has reaped the app
        while (opened := raw_websocket(port, f"token={token}"))[1] == 503 and time.monotonic() < deadline:
            time.sleep(0.2)
        sock, status, _ = opened
        assert status == 101
        apps = wait_children(server.pid, 1)
        sock.settimeout(30)
        screen = b""
        while b"emotui" not in screen:  # the real dashboard draws through the web driver (binary frames)
            chunk = sock.recv(65536)
            assert chunk, "the session closed before the dashboard drew"
            screen += chunk
        assert screen[0] == 0x82
        assert stop(server, signal.SIGINT) == 130
        assert gone_within(apps, 5) == [], "the dashboard outlived the server"
        sock.close()
    finally:
        if server.poll() is None:
            stop(server)


def test_serve_on_an_unknown_host_is_a_one_line_error():
    done = subprocess.run([sys.executable, "-m", "emotui", "serve", "--host", "nowhere.invalid"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("emotui: error: --host nowhere.invalid: "), done.stderr
