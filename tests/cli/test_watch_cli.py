"""`emotui watch`, `emotui sessions` and `emotui export` through the real click commands."""

from __future__ import annotations

import csv
import io
import json
import signal

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from emotui.cli import cli
from emotui.labels import CLASSES
from emotui.learn.predictor import Predictor
from emotui.live.logstore import PREDICTION_COLUMNS, LogStore

from ..conftest import MEDIA
from ..live.test_logstore import start_watch, wait_for_rows

PEXELS = str(MEDIA / "WolfgangLanger_Pexels.mp4")


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def pexels_json(tmp_path_factory):
    """The issue's done-when command, and the CSV export that follows it."""
    db = tmp_path_factory.mktemp("cli") / "emotui.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMOTUI_DB", str(db))
        watched = run("watch", "--source", PEXELS, "--interval", "0", "--fast", "--headless", "--json")
        exported = run("export", "--format", "csv")
    return db, watched, exported


def test_watch_json_prints_a_prediction_for_every_frame(pexels_json):
    _, watched, _ = pexels_json
    assert watched.exit_code == 0, watched.stderr
    lines = [json.loads(line) for line in watched.stdout.splitlines()]
    assert [r["frame"] for r in lines] == list(range(472))
    for r in lines:
        assert {"time", "session", "frame", "track", "label", "confidence", "probabilities", "smoothed", "bbox",
                "latency_ms"} <= set(r)
        assert r["label"] in CLASSES and list(r["probabilities"]) == list(CLASSES)
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=4e-6)  # 8 values to 6 decimals
        assert len(r["bbox"]) == 4 and r["latency_ms"]["total"] > 0
    # the track's own mean face is its reference from its third face on, for a model that uses one
    if Predictor.load().uses_reference:
        assert [r["calibrated"] for r in lines[:4]] == [False, False, True, True]
        assert all(r["calibrated"] for r in lines[2:])
    else:
        assert all(r["calibrated"] is None for r in lines)
    assert "ended (source ended): 472 frames analysed" in watched.stderr
    assert "emotui: watching ended: the source has no more frames" in watched.stderr
    assert "source ended: source ended" not in watched.stderr


def test_export_csv_returns_exactly_the_watched_rows(pexels_json):
    db, watched, exported = pexels_json
    assert exported.exit_code == 0, exported.stderr
    printed = [json.loads(line) for line in watched.stdout.splitlines()]
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == len(printed) == 472
    for row, p in zip(rows, printed):
        assert (row["session"], row["time"], int(row["frame"]), int(row["track"]), row["label"]) == (
            p["session"], p["time"], p["frame"], p["track"], p["label"])
        assert [float(row[f"p_{c}"]) for c in CLASSES] == [p["probabilities"][c] for c in CLASSES]
        assert [float(row[f"s_{c}"]) for c in CLASSES] == [p["smoothed"][c] for c in CLASSES]
        assert float(row["confidence"]) == p["confidence"]
        # Probabilities to 6 decimals, pixels to 1, milliseconds to 3: never float32 noise to 14 digits.
        for column, decimals in (("p_happy", 6), ("s_happy", 6), ("confidence", 6), ("bbox_x0", 1), ("total_ms", 3)):
            assert len(row[column].partition(".")[2]) <= decimals, (column, row[column])
    with LogStore(db) as store:
        (info,) = store.sessions()
        assert info.id == printed[0]["session"] and info.status == "clean" and info.frames == 472


def test_sessions_lists_the_log(pexels_json, monkeypatch):
    db, watched, _ = pexels_json
    session = json.loads(watched.stdout.splitlines()[0])["session"]
    listed = run("sessions", "--db", str(db))
    assert listed.exit_code == 0 and session in listed.stdout and "clean" in listed.stdout
    as_json = [json.loads(line) for line in run("sessions", "--db", str(db), "--json").stdout.splitlines()]
    assert as_json[0]["id"] == session and as_json[0]["frames"] == 472 and as_json[0]["status"] == "clean"


def test_export_to_files_and_jsonl_on_stdout(pexels_json, tmp_path):
    db, _, _ = pexels_json
    result = run("export", "--db", str(db), "--all", "--format", "parquet", "--out", str(tmp_path / "log.parquet"))
    assert result.exit_code == 0 and "wrote 472 rows" in result.stderr
    assert tuple(pq.read_table(tmp_path / "log.parquet").column_names) == PREDICTION_COLUMNS
    jsonl = run("export", "--db", str(db), "--format", "jsonl", "--since", "1d")
    assert len(jsonl.stdout.splitlines()) == 472 and json.loads(jsonl.stdout.splitlines()[0])["p_happy"] >= 0


def test_readable_lines_and_no_face_records():
    result = run("watch", "--source", str(MEDIA / "no_face.mp4"), "--interval", "0", "--fast", "--frames", "3",
                 "--headless")
    assert result.exit_code == 0, result.stderr
    assert [line.split()[1:5] for line in result.stdout.splitlines()] == [["frame", str(i), "no", "face"]
                                                                          for i in range(3)]
    single = run("watch", "--source", str(MEDIA / "single_face.mp4"), "--interval", "0", "--fast", "--frames",
                 "2", "--headless")
    assert all(" face 1 " in line and "%" in line for line in single.stdout.splitlines())


@pytest.mark.parametrize(
    "args,message",
    [
        (["--source", "7"], "camera 7 not found (camera indices available: none)"),
        (["--source", "nothing.mp4"], "no such file, folder, camera or stream: nothing.mp4"),
        (["--source", PEXELS, "--duration", "1", "--frames", "2"], "give --duration or --frames, not both"),
        (["--source", PEXELS, "--resolution", "big"], "is not WIDTHxHEIGHT"),
    ],
)
def test_bad_input_gives_one_line_and_a_non_zero_exit(args, message):
    result = run("watch", *args, "--headless")
    assert result.exit_code != 0 and result.stdout == ""
    assert result.stderr.startswith("emotui: error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_export_errors_are_one_line(tmp_path):
    result = run("export", "--db", str(tmp_path / "none.db"), "--format", "csv")
    assert result.exit_code == 1 and "there is no prediction log at" in result.stderr
    assert not (tmp_path / "none.db").exists()
    result = run("export", "--db", str(tmp_path / "none.db"), "--format", "parquet")
    assert result.exit_code == 2 and "give --out" in result.stderr


def test_a_missing_model_is_one_clear_line(tmp_path):
    result = run("watch", "--source", PEXELS, "--headless", "--model", str(tmp_path / "nothing"))
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "nothing" in result.stderr


@pytest.mark.slow
def test_ctrl_c_ends_the_session_cleanly(tmp_path):
    db = tmp_path / "emotui.db"
    process = start_watch(db, "--source", PEXELS, "--interval", "0")
    try:
        wait_for_rows(db, 10, process)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "ended (stopped)" in stderr and "Traceback" not in stderr
    with LogStore(db) as store:
        (info,) = store.sessions()
        assert info.status == "clean" and info.end_reason == "stopped" and info.frames >= 10


def test_the_end_of_watching_reads_as_a_sentence():
    from emotui.commands.watch import end_message

    assert end_message("source ended") == "the source has no more frames"
    assert end_message("frames", frames=3) == "--frames 3 reached"
    assert end_message("duration", duration=1.5) == "--duration 1.5 s reached"
    assert end_message("error: camera on fire") == "error: camera on fire"


def test_the_prior_is_recorded_with_the_session(tmp_path):
    db = tmp_path / "log.db"
    watched = run("watch", "--source", str(MEDIA / "single_face.mp4"), "--interval", "0", "--fast", "--frames", "2",
                  "--headless", "--json", "--prior", "balanced", "--db", str(db))
    assert watched.exit_code == 0, watched.stderr
    with LogStore(db) as store:
        [session] = store.sessions()
    assert session.settings["prior"] == "balanced"
