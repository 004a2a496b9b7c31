"""`emotui doctor` on this machine (no camera), with a broken landmarker, and with packages missing."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata

from click.testing import CliRunner

from emotui.cli import cli
from emotui.commands import doctor as doctor_module
from emotui.data.landmarker import LANDMARKER_SHA256, resolve_landmarker



def test_doctor_reports_versions_landmarker_cameras_and_paths(_isolated_data):
    env = {**os.environ, "COLUMNS": "300"}  # rich wraps at 80 columns when not on a terminal
    done = subprocess.run([sys.executable, "-m", "emotui", "doctor"], capture_output=True, text=True, timeout=60,
                          env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for name in ("python", "emotui", "mediapipe", "opencv", "torch", "numpy", "textual", "cameras", "data dir",
                 "models dir", "default model", "log database"):
        assert name in out, name
    assert metadata.version("mediapipe") in out and metadata.version("numpy") in out
    assert str(resolve_landmarker(download=False)) in out and f"{LANDMARKER_SHA256[:12]}... verified" in out
    assert "none found (no /dev/video* devices)" in out  # this machine has no camera
    assert f"data dir       {_isolated_data}" in out


def test_off_a_terminal_every_check_is_one_line_without_padding(tmp_path):
    deep = tmp_path / ("a-folder-with-a-long-name-" * 4) / "models"
    deep.mkdir(parents=True)
    result = CliRunner().invoke(cli, ["doctor", "--landmarker", str(deep / "face_landmarker.task")],
                                env={"COLUMNS": None})
    lines = result.stdout.splitlines()
    assert any(str(deep) in line and line.split()[:2] == ["FAIL", "landmarker"] for line in lines), result.stdout
    assert all(line == line.rstrip() and line[:1] != " " for line in lines), result.stdout


def test_a_wrong_landmarker_fails_with_one_line_and_status_1(tmp_path):
    fake = tmp_path / "face_landmarker.task"
    fake.write_bytes(b"truncated")
    result = CliRunner().invoke(cli, ["doctor", "--landmarker", str(fake)])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert "FAIL" in result.stdout and "not the expected" in result.stdout
    assert result.stderr == "emotui: error: not ready: landmarker\n"


def test_no_landmarker_at_all_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv("EMOTUI_LANDMARKER", raising=False)
    monkeypatch.setenv("EMOTUI_MODELS", str(tmp_path / "models"))
    checks = {c.name: c for c in doctor_module.collect()}
    assert checks["landmarker"].state == "fail"
    assert f"put face_landmarker.task at {tmp_path / 'models'}" in checks["landmarker"].value
    assert not (tmp_path / "models").exists()  # doctor never downloads


def test_missing_packages_are_rows_not_crashes(monkeypatch):
    # Fakes add coverage here: torch and mediapipe cannot be uninstalled from the test venv.
    monkeypatch.setattr(doctor_module, "PACKAGES", (("torch", ("no-such-torch",)), ("mediapipe", ("no-such-mp",))))
    checks = {c.name: c for c in doctor_module.collect()}
    assert (checks["torch"].value, checks["torch"].state) == ("not installed", "warn")
    assert (checks["mediapipe"].value, checks["mediapipe"].state) == ("not installed", "fail")


def test_doctor_does_not_import_torch():
    code = "import sys; from emotui.commands.doctor import collect; collect(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
