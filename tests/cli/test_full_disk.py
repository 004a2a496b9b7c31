"""A full disk, for real: a tiny tmpfs mounted in a private mount namespace (unshare) for one subprocess run.

Exports are written whole or not at all; `watch --save-frames` stops at the first frame it cannot save.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys

import cv2
import pytest

from ..conftest import MEDIA, REPO, watched_log


def _can_mount() -> bool:
    try:
        return subprocess.run(["unshare", "-r", "-m", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = pytest.mark.skipif(not _can_mount(), reason="needs unshare and tmpfs mounts")


def on_tiny_disk(disk, size: str, script: str) -> subprocess.CompletedProcess:
    """Runs `script` (sh) with a tmpfs of `size` at `disk`; `$EMOTUI` is this checkout's emotui command."""
    disk.mkdir(exist_ok=True)
    emotui = f"{shlex.quote(sys.executable)} -m emotui"
    env = {**os.environ, "PYTHONPATH": str(REPO), "EMOTUI": emotui}
    return subprocess.run(["unshare", "-r", "-m", "sh", "-c",
                           f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(disk))} && {script}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def log(tmp_path_factory, predictor):
    path = tmp_path_factory.mktemp("log") / "emotui.db"
    return path, watched_log(path, predictor, 10, None)[0]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_on_a_full_disk_leaves_the_previous_export_whole(log, tmp_path, fmt):
    db, first = log
    disk, out = tmp_path / "disk", tmp_path / "out"
    out.mkdir()
    target = disk / f"export.{fmt}"
    result = on_tiny_disk(disk, "256k", f"""
        $EMOTUI export --db {db} --session {first} --format {fmt} --out {target} || exit 9
        cp {target} {out}/before
        head -c 1M /dev/zero > {disk}/filler 2>/dev/null
        $EMOTUI export --db {db} --all --format {fmt} --out {target} 2> {out}/err
        echo $? > {out}/rc
        cp {target} {out}/after; ls -A {disk} > {out}/ls""")
    assert result.returncode == 0, result.stderr
    err = (out / "err").read_text()
    assert (out / "rc").read_text().strip() == "1"
    assert err == f"emotui: error: cannot write {target}: No space left on device; the previous export.{fmt} is unchanged\n"
    assert (out / "after").read_bytes() == (out / "before").read_bytes()
    assert (out / "ls").read_text().split() == [f"export.{fmt}", "filler"]  # no temporary file left


def test_save_frames_on_a_full_disk_ends_the_session_with_one_line(tmp_path):
    disk, out, db = tmp_path / "disk", tmp_path / "out", tmp_path / "emotui.db"
    out.mkdir()
    # 100 KiB holds two of these 37 KB frames, not three.
    result = on_tiny_disk(disk, "100k", f"""
        $EMOTUI watch --source {MEDIA / 'single_face.mp4'} --fast --interval 0 --frames 40 --headless --json \
            --save-frames {disk} --db {db} > {out}/stdout 2> {out}/stderr
        echo $? > {out}/rc
        cp -r {disk}/. {out}/frames""")
    assert result.returncode == 0, result.stderr
    stderr = (out / "stderr").read_text().splitlines()
    assert (out / "rc").read_text().strip() == "1", stderr
    (session_dir,) = (out / "frames").iterdir()
    saved = sorted(session_dir.iterdir())
    assert [p.name for p in saved] == ["frame_000000.jpg", "frame_000001.jpg"]
    assert all(cv2.imread(str(p)) is not None for p in saved)
    assert stderr[-1] == (f"emotui: error: cannot write {disk / session_dir.name / 'frame_000002.jpg'}: "
                          "No space left on device") and "Traceback" not in "\n".join(stderr)
    conn = sqlite3.connect(db)
    (clean, reason), = conn.execute("SELECT ended_cleanly, end_reason FROM sessions").fetchall()
    logged = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    conn.close()
    assert clean == 0 and "No space left on device" in reason
    printed = (out / "stdout").read_text().splitlines()
    assert len(printed) == 2 and logged == 3  # the third frame was logged, then its image could not be saved
