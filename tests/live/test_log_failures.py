"""The prediction log failing while watching (locked by another process, a damaged page): the session ends with
one line, is marked unclean, and every frame already logged stays."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from click.testing import CliRunner

from emotui.live import logstore
from emotui.cli import cli
from emotui.live.logstore import LogError, LogStore
from emotui.live.monitor import run_monitor

from ..conftest import MEDIA

VIDEO = str(MEDIA / "single_face.mp4")


def _lock_after_rows(db, rows: int, hold: float, done: threading.Event) -> threading.Thread:
    """Another connection takes the write lock (BEGIN EXCLUSIVE) once `rows` frames are logged, for `hold` s."""

    def run() -> None:
        conn = sqlite3.connect(db, isolation_level=None)
        try:
            while not done.is_set():
                try:
                    if conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] >= rows:
                        break
                except sqlite3.OperationalError:
                    pass  # no schema yet
                time.sleep(0.005)
            conn.execute("BEGIN EXCLUSIVE")
            done.wait(hold)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_log_locked_by_another_connection_ends_watch_with_one_line(tmp_path, monkeypatch):
    # The writer waits 1 s for the lock; the other connection holds it for 1.6 s, so the frame being logged fails
    # and the session's end, written after that first wait, gets through.
    monkeypatch.setattr(logstore, "BUSY_SECONDS", 1.0)
    db = tmp_path / "emotui.db"
    done = threading.Event()
    locker = _lock_after_rows(db, 3, 1.6, done)
    try:
        result = CliRunner().invoke(cli, ["watch", "--headless", "--source", VIDEO, "--fast", "--interval", "0",
                                          "--db", str(db)])
    finally:
        locker.join(10)
        done.set()
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"emotui: error: the prediction log {db} failed: database is locked "
        "(another connection held it for over 1 s)")
    printed = result.stdout.splitlines()
    with LogStore(db) as store:
        (info,) = store.sessions()
        frames = [row[2] for row in store.rows()]
    assert info.status == "unclean" and "database is locked" in info.end_reason
    assert len(printed) == len(frames) >= 3 and frames == list(range(len(frames)))


def test_a_lock_held_past_the_end_leaves_every_frame_and_an_open_session(tmp_path, monkeypatch, predictor):
    """When even the end cannot be written, the error that ended the session is the one raised; the session stays
    open for the orphan check to mark unclean once this process is gone."""
    monkeypatch.setattr(logstore, "BUSY_SECONDS", 0.3)
    db = tmp_path / "emotui.db"
    done = threading.Event()
    locker = _lock_after_rows(db, 2, 30, done)
    try:
        with LogStore(db) as store, pytest.raises(LogError, match="database is locked"):
            run_monitor(VIDEO, predictor=predictor, store=store, interval=0, fast=True)
    finally:
        done.set()
        locker.join(10)
    conn = sqlite3.connect(db)
    (ended_cleanly,), = conn.execute("SELECT ended_cleanly FROM sessions").fetchall()
    assert ended_cleanly is None and conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] >= 2
    conn.close()


def test_a_damaged_page_ends_the_session_unclean_and_keeps_the_earlier_frames(tmp_path, predictor):
    db = tmp_path / "emotui.db"
    with LogStore(db) as store:
        before = run_monitor(VIDEO, predictor=predictor, store=store, interval=0, fast=True, frames=20).session
    conn = sqlite3.connect(db)
    (root,), = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'predictions_time'").fetchall()
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(db, "r+b") as fh:  # the time index's root page becomes noise
        fh.seek((root - 1) * page)
        fh.write(b"\xa5" * page)
    with LogStore(db) as store:
        with pytest.raises(LogError) as caught:
            run_monitor(VIDEO, predictor=predictor, store=store, interval=0, fast=True, frames=20)
        assert str(caught.value) == (f"the prediction log {db} failed: database disk image is malformed "
                                     "(the file is damaged)")
        first, second = store.sessions()
        assert first.id == before and first.status == "clean" and first.frames == 20
        assert second.status == "unclean" and "malformed" in second.end_reason
        assert [row[2] for row in store.rows(session=before)] == list(range(20))
