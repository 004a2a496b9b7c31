"""`emotui sessions` and `emotui export` only read: a foreign SQLite file, a mistyped --db and a log on a
read-only disk are each left exactly as they were."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

from emotui.cli import cli

from ..conftest import MEDIA, REPO, watched_log
from ..cli.test_full_disk import _can_mount


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def log(tmp_path_factory, predictor):
    path = tmp_path_factory.mktemp("ro") / "emotui.db"
    return path, watched_log(path, predictor, 5)[0]


def test_a_foreign_sqlite_file_is_refused_in_one_line_and_left_untouched(tmp_path):
    foreign = tmp_path / "app.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    before = digest(foreign)
    for args in (["sessions"], ["export", "--format", "csv"],
                 ["watch", "--headless", "--source", str(MEDIA / "single_face.mp4")]):
        result = run(*args, "--db", str(foreign))
        assert result.exit_code == 1 and result.stdout == ""
        assert result.stderr == f"emotui: error: {foreign} is not an emotui prediction log (it has users); give another --db\n"
    assert digest(foreign) == before and sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]
    conn = sqlite3.connect(foreign)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


def test_a_mistyped_db_is_an_error_and_creates_nothing(tmp_path):
    typo = tmp_path / "logs" / "emotiu.db"
    for args in (["sessions"], ["sessions", "--json"], ["export", "--format", "jsonl"]):
        result = run(*args, "--db", str(typo))
        assert result.exit_code == 1
        assert result.stderr == f"emotui: error: there is no prediction log at {typo} yet (run `emotui watch`)\n"
    assert list(tmp_path.iterdir()) == []
    # Without --db, a log that does not exist yet is simply empty.
    result = run("sessions")
    assert result.exit_code == 0 and "no sessions in" in result.stderr


def test_a_session_whose_process_is_gone_is_listed_unclean_without_writing(tmp_path):
    db = tmp_path / "emotui.db"
    code = f"from emotui.live.logstore import LogStore\nLogStore({str(db)!r}).start_session(source='gone')"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    before = digest(db)
    (info,) = [json.loads(line) for line in run("sessions", "--db", str(db), "--json").stdout.splitlines()]
    assert info["status"] == "unclean" and info["end_reason"] == "process ended without closing the session"
    assert digest(db) == before


@pytest.mark.skipif(not _can_mount(), reason="needs unshare and bind mounts")
def test_a_log_on_a_read_only_disk_can_be_listed_and_exported(log, tmp_path):
    db, session = log
    ro = tmp_path / "ro"
    ro.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    emotui = f"{sys.executable} -m emotui"
    script = (f"mount --bind -o ro {db.parent} {ro} && {emotui} sessions --json --db {ro / db.name} && "
              f"{emotui} export --format jsonl --db {ro / db.name}")
    result = subprocess.run(["unshare", "-r", "-m", "sh", "-c", script], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    listed, *rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert listed["id"] == session and listed["status"] == "clean" and listed["frames"] == 5
    assert [r["frame"] for r in rows] == [0, 1, 2, 3, 4] and {r["session"] for r in rows} == {session}
