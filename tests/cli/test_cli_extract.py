"""`emotui extract` end to end: the Kaggle acceptance check, one-line errors, Ctrl-C and kill -9 then resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from emotui.cli import cli
from emotui.data.extraction import features_path_for, read_features

from ..conftest import DATASETS, MEDIA, REPO

KAGGLE = DATASETS / "kaggle-layout-sample"


def emotui(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotui", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def test_kaggle_sample_acceptance_and_a_second_run_does_no_detection(tmp_path):
    # The command, run from a checkout beside ../shared, with a relative dataset path.
    rel = os.path.relpath(KAGGLE, REPO)
    done = emotui("extract", rel, "--out", str(tmp_path / "f.parquet"), cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "surprise" in done.stdout and "49 images (kaggle layout)" in done.stdout
    frame = read_features(tmp_path / "f.parquet")
    images = sorted(str(p) for p in (KAGGLE / "images").rglob("*") if p.is_file())
    assert sorted(frame["path"]) == images  # one row per image
    row = frame.set_index("path").loc[str(KAGGLE / "images" / "3" / "Surprised.png")]
    assert (row["label"], row["subject"]) == ("surprise", "3")
    assert frame.loc[frame["path"].str.contains("/images/3/"), "subject"].eq("3").all()
    ok = frame["status"] == "ok"
    assert ok.sum() >= 45 and frame.loc[ok, "landmarks"].map(len).eq(1434).all()
    assert frame.loc[ok, "mirror_landmarks"].notna().mean() > 0.9  # each face meshed in the mirror too, by default

    again = emotui("extract", rel, "--out", str(tmp_path / "f.parquet"), "--json", cwd=REPO)
    summary = json.loads(again.stdout)
    assert (summary["detected"], summary["resumed"], summary["total"]) == (0, 49, 49)
    assert summary["by_status"] == frame[frame["face"] == 0]["status"].value_counts().to_dict()


@pytest.mark.parametrize("workers", ["1", "2"])  # in this thread, and in pool workers
def test_no_mirror_view_extracts_the_faces_without_their_views(tmp_path, workers):
    root = tmp_path / "tiny"
    (root / "Happy").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg"):
        shutil.copy(MEDIA / "single_face.jpg", root / "Happy" / name)
    out = tmp_path / "f.parquet"
    result = CliRunner().invoke(cli, ["extract", str(root), "--out", str(out), "--workers", workers, "--no-mirror-view"])
    assert result.exit_code == 0, result.output
    frame = read_features(out)
    assert frame["status"].eq("ok").all() and frame["landmarks"].map(len).eq(1434).all()
    assert frame["mirror_landmarks"].isna().all() and frame["mirror_blendshapes"].isna().all()


def test_default_out_goes_to_the_data_dir(tmp_path):
    root = tmp_path / "tiny"
    for name in ("a.jpg", "b.jpg"):
        (root / "Happy").mkdir(parents=True, exist_ok=True)
        shutil.copy(MEDIA / "single_face.jpg", root / "Happy" / name)
    result = CliRunner().invoke(cli, ["extract", str(root), "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["out"] == str(features_path_for(root)) and summary["by_class"] == {"happy": {"ok": 2}}
    assert len(read_features(features_path_for(root))) == 2


@pytest.mark.parametrize("case", ["missing", "empty", "no_layout", "bad_landmarker", "zero_workers"])
def test_bad_input_gives_one_line_and_a_non_zero_exit(tmp_path, case):
    target = tmp_path / "ds"
    args = ["extract", str(target), "--out", str(tmp_path / "o.parquet")]
    if case == "empty":
        target.mkdir()
    elif case == "no_layout":
        target.mkdir()
        (target / "notes.txt").write_text("no images here")
    elif case in ("bad_landmarker", "zero_workers"):
        args[1] = str(KAGGLE)
        if case == "bad_landmarker":
            (tmp_path / "fake.task").write_bytes(b"not a model")
            args += ["--landmarker", str(tmp_path / "fake.task")]
        else:
            args += ["--workers", "0"]
    result = CliRunner().invoke(cli, args)
    expected = {"missing": "emotui: error: dataset not found", "empty": "emotui: error: dataset folder is empty",
                "no_layout": "emotui: error: no recognisable dataset layout",
                "bad_landmarker": "emotui: error: " + str(tmp_path / "fake.task") + " is not the expected",
                "zero_workers": "Invalid value for '--workers'"}[case]
    assert result.exit_code != 0 and result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert any(expected in line for line in lines), result.stderr
    if case != "zero_workers":
        assert len(lines) == 1
    assert "Traceback" not in result.output and not (tmp_path / "o.parquet").exists()


def test_a_traceback_never_reaches_the_user_from_a_real_process(tmp_path):
    done = emotui("extract", str(tmp_path / "nowhere"))
    assert done.returncode == 1 and done.stderr == f"emotui: error: dataset not found: {tmp_path / 'nowhere'}\n"


@pytest.fixture
def many_images(tmp_path):
    """120 real faces: enough for a run to be caught in the middle."""
    root = tmp_path / "mux"
    for label in ("happy", "neutral"):
        (root / label).mkdir(parents=True)
        for src in sorted((DATASETS / "muxspace-fe" / label).iterdir())[:60]:
            shutil.copy(src, root / label / src.name)
    return root


def _start(root: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "emotui", "extract", str(root), "--out", str(out),
                             "--chunk-size", "2", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_parts(proc: subprocess.Popen, parts: Path, count: int = 2) -> None:
    deadline = time.monotonic() + 90
    while len(list(parts.glob("part-*.parquet"))) < count:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "no batch finished in time"
        time.sleep(0.02)


def test_kill_9_mid_run_loses_only_the_batches_in_flight(many_images, tmp_path):
    out = tmp_path / "f.parquet"
    parts = tmp_path / "f.parquet.parts"
    proc = _start(many_images, out, "--workers", "2")
    _wait_for_parts(proc, parts)
    workers = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()
    assert not out.exists(), "the run finished before it could be killed"
    saved = sum(pq.read_metadata(p).num_rows for p in parts.glob("part-*.parquet"))
    assert 4 <= saved < 120
    # Orphaned workers notice that their parent is gone and leave.
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, f"workers outlived the killed run: {alive}"

    again = emotui("extract", str(many_images), "--out", str(out), "--workers", "2", "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["resumed"], summary["detected"]) == (saved, 120 - saved)
    frame = read_features(out)
    assert len(frame) == 120 and frame["path"].is_unique and not parts.exists()


def test_ctrl_c_saves_the_finished_batches_and_exits_130(many_images, tmp_path):
    out = tmp_path / "f.parquet"
    proc = _start(many_images, out, "--workers", "1")
    _wait_for_parts(proc, tmp_path / "f.parquet.parts", 1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before Ctrl-C arrived")
    assert proc.returncode == 130, stderr
    assert "stopped:" in stderr and "Traceback" not in stderr
    first = len(read_features(out))
    assert 0 < first < 120
    again = emotui("extract", str(many_images), "--out", str(out), "--workers", "1", "--json")
    summary = json.loads(again.stdout)
    assert (summary["resumed"], summary["detected"]) == (first, 120 - first)


def test_progress_failures_and_unknown_labels_are_shown_on_stderr(tmp_path):
    root = tmp_path / "ds"
    for folder, src in (("happy", "single_face.jpg"), ("sad", "free-mountain-vector-01.jpg"), ("bored", "single_face.jpg")):
        (root / folder).mkdir(parents=True)
        shutil.copy(MEDIA / src, root / folder / "x.jpg")
    (root / "happy" / "broken.jpg").write_bytes(b"")
    done = emotui("extract", str(root), "--out", str(tmp_path / "f.parquet"), "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "left out 1 files with unknown labels: bored (1 file)" in done.stderr
    assert f"no_face {root / 'sad' / 'x.jpg'}: no face found" in done.stderr
    assert f"unreadable empty file: {root / 'happy' / 'broken.jpg'}" in done.stderr
    assert "extract done" in done.stderr and "3/3" in done.stderr
    assert "happy" in done.stdout and "3 images (folders layout)" in done.stdout


def test_renderer_shows_the_first_failures_then_a_count():
    import io

    from rich.console import Console

    from emotui.events import Finished, ItemFailed, Progress
    from emotui.progress_render import EventRenderer

    buffer = io.StringIO()
    with EventRenderer(Console(file=buffer, width=200), max_failures=3) as render:
        render(Progress("extract", 0, 10))
        for i in range(5):
            render(ItemFailed("extract", f"/d/{i}.jpg", "no_face", "no face found"))
        render(Progress("extract", 10, 10, rate=12.5, eta=0.0, counts={"ok": 5, "no_face": 5}))
        render(Finished("extract", {}))
    text = buffer.getvalue()
    assert "no_face /d/0.jpg: no face found" in text and "/d/2.jpg" in text and "/d/3.jpg" not in text
    assert "... 2 more skipped images not shown (5 no_face in all)" in text
    assert "extract done" in text and "10/10" in text and "12.5 images/s" in text


def test_retry_missed_detects_again_only_the_images_with_no_face(tmp_path, monkeypatch):
    from emotui.data.landmarker import Landmarker

    root = tmp_path / "two"
    (root / "Anger").mkdir(parents=True)
    shutil.copy(MEDIA / "single_face.jpg", root / "Anger" / "a.jpg")
    shutil.copy(DATASETS / "ferplus" / "anger" / "fer0000797.png", root / "Anger" / "b.png")  # only the mirror finds it
    out = tmp_path / "f.parquet"
    args = ["extract", str(root), "--out", str(out), "--workers", "1", "--json"]
    with monkeypatch.context() as older:  # an emotui from before the rescue passes
        older.setattr(Landmarker, "_rescue", lambda self, rgb, want: [])
        assert CliRunner().invoke(cli, args).exit_code == 0
    before = read_features(out).set_index("path")
    assert before["status"].tolist() == ["ok", "no_face"]

    again = json.loads(CliRunner().invoke(cli, args).stdout)
    assert (again["detected"], again["by_status"]) == (0, {"ok": 1, "no_face": 1})
    retried = CliRunner().invoke(cli, [*args, "--retry-missed"])
    assert retried.exit_code == 0, retried.output
    summary = json.loads(retried.stdout)
    assert (summary["detected"], summary["resumed"], summary["by_status"]) == (1, 1, {"ok": 2})
    after = read_features(out).set_index("path")
    assert len(after) == 2 and after["status"].eq("ok").all()
    first = str(root / "Anger" / "a.jpg")
    assert np.array_equal(after.loc[first, "landmarks"], before.loc[first, "landmarks"])  # kept, not redone
