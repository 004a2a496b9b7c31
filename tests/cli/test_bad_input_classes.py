"""Bad input handled by class (issue 30): every path, every option value, through one guard (emotui.inputs).

Each class is driven through every command that takes it: a one-line error naming the option, a non-zero exit,
never a traceback, never a hang. The FIFO and the broken pipe are also run as real processes, with timeouts."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from emotui.cli import cli

from ..conftest import DATASETS, MEDIA

IMAGE = MEDIA / "single_face.jpg"
VIDEO = MEDIA / "single_face.mp4"
KAGGLE = DATASETS / "kaggle-layout-sample"
TIMEOUT = 120


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def emotui(*args: str, cwd=None, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:  # noqa: ANN001
    return subprocess.run([sys.executable, "-m", "emotui", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd)


def assert_one_line(result, *needles: str, code: int = 2) -> None:  # noqa: ANN001
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("emotui: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in result.output


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.jpg"
    os.mkfifo(path)
    return path


# ---------------------------------------------------------------- option values

# (command words before the option, the option, the values it refuses)
NUMBER_OPTIONS = [
    (["watch", "--source", str(VIDEO), "--headless"], "--interval", ["", "nan", "inf", "-1", "abc"]),
    (["watch", "--source", str(VIDEO), "--headless"], "--duration", ["", "nan", "-inf", "0", "-3"]),
    (["watch", "--source", str(VIDEO), "--headless"], "--frames", ["", "0", "-1", "1.5", "nan"]),
    (["watch", "--source", str(VIDEO), "--headless"], "--max-faces", ["0", "17", ""]),
    (["watch", "--source", str(VIDEO), "--headless"], "--smooth", ["1", "nan", "-0.1", ""]),
    (["watch", "--source", str(VIDEO), "--headless"], "--uncertain-below", ["nan", "1.5", ""]),
    (["watch", "--source", str(VIDEO), "--headless"], "--reconnect-timeout", ["nan", "inf", "-1", ""]),
    (["train", "f.parquet", "--out", "m"], "--epochs", ["0", "", "nan"]),
    (["train", "f.parquet", "--out", "m"], "--folds", ["1", ""]),
    (["train", "f.parquet", "--out", "m"], "--batch-size", ["0", "7", ""]),
    (["train", "f.parquet", "--out", "m"], "--lr", ["0", "nan", "inf", "-1e-3", ""]),
    (["train", "f.parquet", "--out", "m"], "--seed", ["-1", ""]),
    (["extract", str(KAGGLE)], "--workers", ["0", "", "nan"]),
    (["extract", str(KAGGLE)], "--max-faces", ["0", ""]),
    (["predict", str(IMAGE)], "--max-faces", ["0", "", "inf"]),
]


@pytest.mark.parametrize(("words", "option", "values"), NUMBER_OPTIONS, ids=lambda x: x if isinstance(x, str) else None)
def test_every_number_option_refuses_empty_nan_infinite_and_meaningless_values(words, option, values, tmp_path):
    for value in values:
        result = run(*words, option, value)
        assert_one_line(result, f"'{option}'")


def test_the_dashboards_interval_refuses_nan_and_empty():
    for value in ("nan", "inf", "", "-2"):
        assert_one_line(run("--interval", value, "doctor"), "--interval")


def test_empty_text_options_are_refused_naming_the_option():
    for words in (["export", "--format", "csv", "--session", ""], ["export", "--format", "csv", "--since", ""],
                  ["extract", str(KAGGLE), "--engine", "ray", "--address", ""],
                  ["watch", "--source", str(VIDEO), "--headless", "--resolution", ""]):
        assert_one_line(run(*words), f"'{words[-2]}'", "must not be empty")


# ---------------------------------------------------------------- paths

def test_an_empty_source_is_refused_not_taken_as_the_current_folder(tmp_path):
    """Issue 30's case: `watch --source ""` in a folder holding a photo watched "." and exited 0."""
    shutil.copy(IMAGE, tmp_path / "photo.jpg")
    done = emotui("watch", "--source", "", "--headless", "--frames", "2", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "'--source'" in done.stderr
    assert "must not be empty" in done.stderr


@pytest.mark.parametrize("words", [
    ["extract", "{}"], ["evaluate", "{}"], ["predict", "{}"], ["train", "{}", "--out", "m"],
    ["--data", "{}", "doctor"], ["--model", "{}", "doctor"], ["--landmarker", "{}", "doctor"],
    ["extract", str(KAGGLE), "--out", "{}"], ["extract", str(KAGGLE), "--landmarker", "{}"],
    ["watch", "--source", "{}", "--headless"], ["watch", "--source", str(VIDEO), "--headless", "--db", "{}"],
    ["watch", "--source", str(VIDEO), "--headless", "--model", "{}"],
    ["watch", "--source", str(VIDEO), "--headless", "--save-frames", "{}"],
    ["export", "--format", "csv", "--out", "{}"], ["export", "--format", "csv", "--db", "{}"],
    ["doctor", "--landmarker", "{}"],
])
@pytest.mark.parametrize("bad", ["empty", "fifo", "device"])
def test_every_path_refuses_empty_fifo_and_device(words, bad, fifo):
    value = {"empty": "", "fifo": str(fifo), "device": "/dev/null"}[bad]
    if bad == "device" and "--save-frames" in words:
        pytest.skip("/dev/null is refused as a folder: covered by the fifo case")
    result = run(*[value if w == "{}" else w for w in words])
    needle = {"empty": "must not be empty", "fifo": "is a FIFO", "device": "is a character device"}[bad]
    assert_one_line(result, needle)


def test_a_folder_where_a_file_goes_and_a_file_where_a_folder_goes(tmp_path):
    assert_one_line(run("--landmarker", str(tmp_path), "doctor"), "is a folder, not a file")
    assert_one_line(run("--data", str(IMAGE), "doctor"), "is a file, not a folder")
    assert_one_line(run("predict", str(tmp_path)), "is a folder, not a file")
    assert_one_line(run("train", str(IMAGE), "--out", str(IMAGE)), "'--out'", "not a folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_reported(tmp_path):
    secret = tmp_path / "secret.task"
    secret.write_bytes(b"x")
    secret.chmod(0)
    assert_one_line(run("--landmarker", str(secret), "doctor"), "cannot read", "permission denied")


def test_camera_indices_devices_and_urls_still_pass_the_source_check(fifo):
    from emotui.inputs import InputError, source

    for text in ("0", "3", "rtsp://example.invalid/x", "http://127.0.0.1:1/v.mjpg", "/dev/video9", str(VIDEO),
                 str(MEDIA)):
        assert source(text) == text
    with pytest.raises(InputError, match="is a FIFO"):
        source(str(fifo))


# ---------------------------------------------------------------- a FIFO inside a dataset, a real process

def test_a_fifo_inside_a_dataset_is_skipped_with_its_reason_never_waited_on(tmp_path):
    """Issue 30's case: `mkfifo happy/pipe.jpg` made `emotui extract` hang for ever. With it, the other entries
    named like images that are not regular files: a symlink to nothing and a folder."""
    root = tmp_path / "ds"
    (root / "happy").mkdir(parents=True)
    (root / "sad").mkdir()
    shutil.copy(IMAGE, root / "happy" / "a.jpg")
    shutil.copy(IMAGE, root / "sad" / "b.jpg")
    os.mkfifo(root / "happy" / "pipe.jpg")
    (root / "sad" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (root / "sad" / "burst.png").mkdir()
    done = emotui("extract", str(root), "--workers", "1", "--out", str(tmp_path / "f.parquet"), "--json")
    assert done.returncode == 0, done.stderr
    import json

    summary = json.loads(done.stdout)
    assert summary["by_status"] == {"ok": 2, "skipped": 3} and summary["by_class"]["sad"] == {"ok": 1, "skipped": 2}
    assert summary["skipped"][0] == {"path": str(root / "happy" / "pipe.jpg"), "label": "happy",
                                     "subject": "happy/pipe", "reason": "not a regular file (FIFO)"}
    assert [(Path(e["path"]).name, e["reason"]) for e in summary["skipped"][1:]] == [
        ("burst.png", "not a regular file (folder)"), ("gone.jpg", "a symlink to nothing")]
    assert summary["total"] == 5 and summary["detected"] == 5 and "not a regular file (FIFO)" in done.stderr
    # the features file records what was skipped and why, and its readers take it as a row with no face
    from emotui.data.features import load_features
    from emotui.data.features_file import features_state

    rows = pd.read_parquet(tmp_path / "f.parquet").set_index("path")
    pipe = rows.loc[str(root / "happy" / "pipe.jpg")]
    assert (pipe["status"], pipe["error"], pipe["label"]) == ("skipped", "not a regular file (FIFO)", "happy")
    assert pipe["landmarks"] is None and pipe["n_faces"] == 0
    state = features_state(tmp_path / "f.parquet")
    assert state.complete and state.faces == 2
    assert (str(root / "happy" / "pipe.jpg"), "skipped", "not a regular file (FIFO)") in state.skipped
    training = load_features([tmp_path / "f.parquet"])
    assert len(training) == 2 and training.sources[0]["skipped"] == 3
    table = emotui("extract", str(root), "--workers", "1", "--out", str(tmp_path / "f.parquet"))
    assert table.returncode == 0 and "skipped" in table.stdout and "pipe.jpg: not a regular file (FIFO)" in table.stdout
    assert "5 already done" in table.stdout  # the skipped row counts as done: a second run does not wait on it


def test_a_manifest_row_naming_a_fifo_is_skipped_and_the_image_reader_never_opens_one(tmp_path, fifo):
    from emotui.data.datasets import discover
    from emotui.data.images import decode_image
    from emotui.errors import ImageReadError

    shutil.copy(IMAGE, tmp_path / "a.jpg")
    (tmp_path / "m.csv").write_text("path,label\na.jpg,happy\npipe.jpg,sad\n")
    frame = discover(tmp_path / "m.csv")
    assert frame["path"].tolist() == [str(tmp_path / "a.jpg")]
    assert frame.attrs["skipped"][0]["reason"] == "not a regular file (FIFO)"
    with pytest.raises(ImageReadError, match=r"not a regular file \(FIFO\)"):
        decode_image(fifo)  # would block for ever on open() without the guard


def test_predict_refuses_a_fifo_in_a_real_process(fifo):
    done = emotui("predict", str(fifo), timeout=60)
    assert done.returncode == 2 and "is a FIFO" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- outputs

def test_an_export_into_a_missing_folder_creates_nothing(tmp_path):
    db = tmp_path / "log.db"
    sqlite3.connect(db).close()
    target = tmp_path / "nonexistent" / "dir" / "x.parquet"
    done = emotui("export", "--db", str(db), "--all", "--format", "parquet", "--out", str(target), timeout=60)
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "nonexistent").exists()


def test_a_closed_stdout_ends_the_watch_cleanly_and_logs_every_frame(tmp_path):
    """`emotui watch ... --headless | head -n 1`: the session ends "output closed", clean, exit 0."""
    db = tmp_path / "w.db"
    command = (f"{sys.executable} -m emotui watch --source {VIDEO} --interval 0 --fast --headless --db {db} "
               "| head -n 1; echo \"rc=${PIPESTATUS[0]}\" >&2")
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=TIMEOUT)
    assert len(done.stdout.splitlines()) == 1 and "face" in done.stdout
    assert "rc=0" in done.stderr and "Traceback" not in done.stderr and "Broken pipe" not in done.stderr
    assert "ended (output closed)" in done.stderr
    with sqlite3.connect(db) as con:
        (clean, reason, frames), = con.execute("SELECT ended_cleanly, end_reason, "
                                               "(SELECT COUNT(DISTINCT frame) FROM predictions) FROM sessions")
    assert (clean, reason) == (1, "output closed") and frames >= 1
