"""The SQLite prediction log: export round trips, selection, orphaned sessions and kill -9 durability."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from emotui.errors import EmotuiError, UsageError
from emotui.live.logstore import PREDICTION_COLUMNS, LogStore, parse_time, utc_iso
from emotui.live.monitor import run_monitor

from ..conftest import MEDIA, REPO


@pytest.fixture(scope="module")
def logged(tmp_path_factory, predictor):
    """Two real sessions: noface_face.mov (no-face records then a face) and 20 frames of single_face.mp4."""
    path = tmp_path_factory.mktemp("log") / "emotui.db"
    with LogStore(path) as store:
        first = run_monitor(MEDIA / "noface_face.mov", predictor=predictor, store=store, interval=0, fast=True)
        second = run_monitor(MEDIA / "single_face.mp4", predictor=predictor, store=store, interval=0, fast=True,
                             frames=20)
    return path, first.session, second.session


def _typed(column, text):
    """A CSV cell back to the value the log holds."""
    if text == "":
        return None
    if column in ("frame", "track", "uncertain"):
        return int(text)
    if column in ("session", "time", "label"):
        return text
    return float(text)


def test_csv_jsonl_and_parquet_exports_read_back_equal_to_the_log(logged, tmp_path):
    path, first, _ = logged
    with LogStore(path) as store:
        rows = list(store.rows(session=first))
        assert len(rows) == 169 and any(r[5] is None for r in rows) and any(r[5] for r in rows)
        for fmt in ("csv", "jsonl", "parquet"):
            assert store.export(fmt, tmp_path / f"log.{fmt}", session=first) == 169
    with open(tmp_path / "log.csv", newline="") as fh:
        reader = csv.reader(fh)
        assert tuple(next(reader)) == PREDICTION_COLUMNS
        from_csv = [tuple(_typed(c, v) for c, v in zip(PREDICTION_COLUMNS, line)) for line in reader]
    from_jsonl = [tuple(json.loads(line)[c] for c in PREDICTION_COLUMNS)
                  for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    table = pq.read_table(tmp_path / "log.parquet")
    assert tuple(table.column_names) == PREDICTION_COLUMNS
    from_parquet = [tuple(r[c] for c in PREDICTION_COLUMNS) for r in table.to_pylist()]
    assert from_csv == rows and from_jsonl == rows and from_parquet == rows
    assert table.schema.field("p_happy").type == "double" and table.schema.metadata[b"emotui.classes"]


def test_one_column_per_class_probability_summing_to_one(logged):
    path, first, _ = logged
    with LogStore(path) as store:
        for row in store.rows(session=first):
            record = dict(zip(PREDICTION_COLUMNS, row))
            if record["label"] is None:
                assert record["p_happy"] is None and record["track"] is None
            else:
                probs = [record[c] for c in PREDICTION_COLUMNS if c.startswith("p_")]
                # kept to 6 decimals (PROB_DECIMALS): 8 of them sum to 1 within 8 * 5e-7
                assert len(probs) == 8 and math.isclose(sum(probs), 1.0, abs_tol=4e-6)
                assert all(p == round(p, 6) for p in probs)


def test_selecting_sessions_and_times(logged):
    path, first, second = logged
    with LogStore(path) as store:
        assert {r[0] for r in store.rows()} == {second}  # the most recent session by default
        assert len(list(store.rows(all_sessions=True))) == 169 + 20
        assert len(list(store.rows(session=first[:-2]))) == 169  # a unique prefix is enough
        times = [r[1] for r in store.rows(all_sessions=True)]
        middle = times[100]
        assert len(list(store.rows(since=middle))) == len([t for t in times if t >= middle])
        assert len(list(store.rows(until=middle))) == 101
        assert list(store.rows(since="1h")) and not list(store.rows(until="1h"))
        with pytest.raises(EmotuiError, match="is not in the log"):
            store.rows(session="nope")
        with pytest.raises(UsageError, match="give --out"):
            store.export("parquet")
        with pytest.raises(UsageError, match="unknown export format"):
            store.export("xlsx")
        names = [s.id for s in store.sessions()]
        assert names == [first, second] and all(s.status == "clean" for s in store.sessions())


def test_an_empty_log_says_so(tmp_path):
    with LogStore(tmp_path / "empty.db") as store:
        with pytest.raises(EmotuiError, match="no sessions yet"):
            store.export("csv", io.StringIO())


def test_times_parse_as_utc_or_ages():
    assert parse_time("2026-11-24T09:30") == "2026-11-24T09:30:00.000000Z"
    assert parse_time("2026-11-24T10:30+01:00") == "2026-11-24T09:30:00.000000Z"
    assert parse_time("10m") < utc_iso()
    with pytest.raises(UsageError, match="not a time"):
        parse_time("yesterday-ish")


def test_a_running_session_of_a_live_process_is_left_alone(tmp_path):
    with LogStore(tmp_path / "log.db") as writer:
        session = writer.start_session(source="test")
        with LogStore(tmp_path / "log.db") as reader:
            assert reader.session(session).status == "running"
        writer.end_session(session, reason="done")
        with LogStore(tmp_path / "log.db") as reader:
            assert reader.session(session).status == "clean"


def test_a_corrupt_database_is_a_clear_error(tmp_path):
    (tmp_path / "bad.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(EmotuiError, match="cannot open the prediction log"):
        LogStore(tmp_path / "bad.db")




def start_watch(db, *args):
    env = {**os.environ, "EMOTUI_DB": str(db)}
    return subprocess.Popen([sys.executable, "-m", "emotui", "watch", "--headless", "--json", *args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_rows(db, at_least, process, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if db.exists():
            try:
                conn = sqlite3.connect(db)
                try:
                    count = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
                finally:
                    conn.close()
                if count >= at_least:
                    return count
            except sqlite3.OperationalError:
                pass  # the schema is not there yet
        time.sleep(0.05)
    raise AssertionError("the watcher logged nothing")


@pytest.mark.slow
def test_kill_9_loses_at_most_the_frame_in_flight(tmp_path):
    db = tmp_path / "emotui.db"
    process = start_watch(db, "--source", str(MEDIA / "WolfgangLanger_Pexels.mp4"), "--interval", "0")
    try:
        seen = wait_for_rows(db, 40, process)
        with LogStore(db) as store:  # opening the log while the watcher runs must not end its session
            assert [s.status for s in store.sessions()] == ["running"]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    printed = [json.loads(line) for line in process.stdout.read().splitlines() if line.strip()]
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with LogStore(db) as store:
        (info,) = store.sessions()
        assert info.ended_cleanly is False and "without closing" in info.end_reason and info.ended
        rows = list(store.rows())
    assert len(rows) >= seen
    frames = [r[2] for r in rows]
    # One face in view: one row per analysed frame, so every logged frame is whole. (At the real rate a loaded
    # machine may skip frames to stay fresh, so frame numbers rise but need not be consecutive.)
    assert frames == sorted(set(frames)) and frames[0] == 0
    # A frame is logged, then printed: everything printed was logged, and at most one logged frame was not printed.
    assert 0 <= len(rows) - len(printed) <= 1
    assert [p["frame"] for p in printed] == [r[2] for r in rows][: len(printed)]
