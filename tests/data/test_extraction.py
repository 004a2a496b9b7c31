"""run_extraction with the real FaceLandmarker on real images: statuses, bad input, resume, stop."""

from __future__ import annotations

import os
import shutil
import threading

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emotui.data.detection import decode_for_detection
from emotui.errors import DatasetError
from emotui.events import Finished, ItemFailed, Progress
from emotui.data.extraction import features_path_for, read_features, run_extraction
from emotui.data.landmarker import Landmarker, read_image
from emotui.data.schema import BASE_SCHEMA

from ..conftest import DATASETS, MEDIA


def _copy(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    return dst


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    """A class-folder dataset holding every hazard of the issue's bad-input list, beside good images."""
    root = tmp_path_factory.mktemp("bad-inputs")
    _copy(MEDIA / "single_face.jpg", root / "happy" / "single.jpg")
    _copy(MEDIA / "multi_face.jpg", root / "happy" / "multi.jpg")
    _copy(MEDIA / "free-mountain-vector-01.jpg", root / "neutral" / "landscape.jpg")
    for src in sorted((DATASETS / "ckplus48" / "sad").iterdir())[:3]:
        _copy(src, root / "sad" / src.name)
    jpeg = (MEDIA / "single_face.jpg").read_bytes()
    (root / "anger").mkdir()
    (root / "anger" / "corrupt.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (root / "anger" / "empty.jpg").write_bytes(b"")
    (root / "anger" / "notes.jpg").write_text("this is a text file, not a JPEG\n")
    big = cv2.resize(cv2.imread(str(MEDIA / "single_face.jpg")), (8000, 8000), interpolation=cv2.INTER_LINEAR)
    (root / "surprise").mkdir()
    cv2.imwrite(str(root / "surprise" / "huge.jpg"), big)
    return root


@pytest.fixture(scope="module")
def extracted(bad_inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("features") / "bad.parquet"
    events = []
    summary = run_extraction(bad_inputs, out, workers=2, on_event=events.append)
    return out, summary, events


def _by_name(frame):
    return {os.path.basename(p): rows for p, rows in frame.groupby("path")}


def test_every_bad_input_gets_its_status_and_nothing_else_is_lost(extracted, bad_inputs):
    out, summary, events = extracted
    frame = read_features(out)
    rows = _by_name(frame)
    assert len(rows) == summary.total == 10 and len(frame) == 10  # one row per image with --max-faces 1
    status = {name: r["status"].iloc[0] for name, r in rows.items()}
    assert status == {
        "single.jpg": "ok", "multi.jpg": "ok", "huge.jpg": "ok", "landscape.jpg": "no_face",
        "corrupt.jpg": "unreadable", "empty.jpg": "unreadable", "notes.jpg": "unreadable",
        **{name: "ok" for name in rows if name.startswith("S")},
    }
    assert rows["empty.jpg"]["error"].iloc[0].startswith("empty file")
    assert rows["notes.jpg"]["error"].iloc[0].startswith("not a readable image")
    assert rows["landscape.jpg"]["error"].iloc[0] == "no face found"
    assert summary.by_status == {"ok": 6, "no_face": 1, "unreadable": 3}
    assert summary.by_class["anger"] == {"unreadable": 3} and summary.by_class["sad"] == {"ok": 3}
    failed = sorted(os.path.basename(e.path) for e in events if isinstance(e, ItemFailed))
    assert failed == ["corrupt.jpg", "empty.jpg", "landscape.jpg", "notes.jpg"]
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[0].done == 0 and progress[-1].done == progress[-1].total == 10 and progress[-1].rate > 0
    assert progress[-1].counts == {"ok": 6, "no_face": 1, "unreadable": 3}
    assert isinstance(events[-1], Finished) and events[-1].stage == "extract"
    assert events[-1].summary["by_class"] == summary.by_class and not events[-1].cancelled


def test_rows_follow_the_schema_and_hold_the_real_landmarks(extracted):
    out, _, _ = extracted
    table = pq.read_table(out)
    for field in BASE_SCHEMA:
        assert table.schema.field(field.name).type == field.type
    frame = table.to_pandas()
    ok = frame[frame["status"] == "ok"]
    assert ok["landmarks"].map(len).eq(478 * 3).all() and ok["blendshapes"].map(len).eq(52).all()
    assert ok["transform"].map(len).eq(16).all() and ok["bbox"].map(len).eq(4).all()
    assert frame.loc[frame["status"] != "ok", "landmarks"].isna().all()
    single = frame[frame["path"].str.endswith("single.jpg")].iloc[0]
    with Landmarker() as lm:
        face = lm.detect(read_image(single["path"]))[0]
    assert np.allclose(single["landmarks"], face.landmarks.ravel(), atol=1e-5)
    assert (single["width"], single["height"], single["n_faces"]) == (572, 562, 1)


def test_several_faces_keep_the_largest_and_max_faces_keeps_more(extracted, bad_inputs, tmp_path):
    out, _, _ = extracted
    multi = read_features(out).query("path.str.endswith('multi.jpg')")
    assert len(multi) == 1 and multi["n_faces"].iloc[0] == 2
    with Landmarker(max_faces=4) as lm:
        faces = lm.detect(read_image(bad_inputs / "happy" / "multi.jpg"))
    assert np.allclose(multi["bbox"].iloc[0], faces[0].bbox, atol=0.5) and faces[0].area > faces[1].area

    root = tmp_path / "ds"
    _copy(bad_inputs / "happy" / "multi.jpg", root / "happy" / "multi.jpg")
    _copy(bad_inputs / "happy" / "single.jpg", root / "happy" / "single.jpg")
    summary = run_extraction(root, tmp_path / "two.parquet", workers=1, max_faces=2)
    frame = read_features(tmp_path / "two.parquet")
    two = frame[frame["path"].str.endswith("multi.jpg")]
    assert two["face"].tolist() == [0, 1] and summary.faces == 3
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in two["bbox"]]
    assert areas[0] > areas[1]


def test_huge_image_is_decoded_reduced_with_its_true_size(extracted, bad_inputs):
    rgb, width, height = decode_for_detection(bad_inputs / "surprise" / "huge.jpg")
    assert (width, height) == (8000, 8000) and rgb.shape == (4000, 4000, 3)
    out, _, _ = extracted
    huge = read_features(out).query("path.str.endswith('huge.jpg')").iloc[0]
    single = read_features(out).query("path.str.endswith('single.jpg')").iloc[0]
    assert (huge["width"], huge["height"]) == (8000, 8000)
    # Same face, upscaled: the bbox is in the original 8000 px frame, the landmarks (normalised) barely move.
    assert huge["bbox"][2] > 4000
    sx, sy = 8000 / 572, 8000 / 562
    expected = np.array(single["bbox"]) * [sx, sy, sx, sy]
    assert np.allclose(huge["bbox"], expected, atol=0.05 * 8000)


def test_second_run_does_no_detection_work(extracted, bad_inputs, tmp_path):
    out, _, _ = extracted
    copy = tmp_path / "again.parquet"
    shutil.copy(out, copy)
    before = pq.read_table(copy)
    summary = run_extraction(bad_inputs, copy, workers=2)
    assert (summary.detected, summary.resumed, summary.remaining) == (0, 10, 0)
    assert pq.read_table(copy).equals(before)
    # A changed file (new mtime) and rows from another landmarker model are redone; the rest is kept.
    single = bad_inputs / "happy" / "single.jpg"
    stat = single.stat()
    os.utime(single, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    try:
        table = pq.read_table(copy)
        models = ["0" * 64 if p.endswith("landscape.jpg") else m
                  for p, m in zip(table["path"].to_pylist(), table["landmarker"].to_pylist())]
        index = table.schema.get_field_index("landmarker")
        pq.write_table(table.set_column(index, "landmarker", pa.array(models, pa.string())), copy)
        summary = run_extraction(bad_inputs, copy, workers=1)
    finally:
        os.utime(single, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (summary.detected, summary.resumed) == (2, 8)
    after = read_features(copy)
    assert len(after) == 10 and after["path"].is_unique


def test_stop_event_saves_finished_rows_and_a_rerun_completes(tmp_path):
    root = tmp_path / "ck"
    for src in sorted((DATASETS / "ckplus48" / "happy").iterdir())[:24]:
        _copy(src, root / "happy" / src.name)
    out = tmp_path / "ck.parquet"
    stop = threading.Event()

    def stop_after_eight(event):
        if isinstance(event, Progress) and event.done >= 8:
            stop.set()

    first = run_extraction(root, out, workers=1, chunk_size=4, on_event=stop_after_eight, stop=stop)
    assert first.cancelled and first.detected == 8 and first.remaining == 16
    assert len(read_features(out)) == 8 and not (tmp_path / "ck.parquet.parts").exists()
    events = []
    second = run_extraction(root, out, workers=2, chunk_size=4, on_event=events.append)
    assert (second.detected, second.resumed, second.cancelled) == (16, 8, False)
    frame = read_features(out)
    assert len(frame) == 24 and frame["path"].is_unique and (frame["status"] == "ok").all()
    assert frame["path"].tolist() == sorted(frame["path"])  # dataset order, whatever order batches finished in
    assert events[0] == Progress("extract", 0, 16, 0.0, None, {})


def test_stop_with_a_pool_waits_for_the_batches_in_flight(tmp_path):
    root = tmp_path / "mux"
    for src in sorted((DATASETS / "muxspace-fe" / "surprise").iterdir())[:40]:
        _copy(src, root / "surprise" / src.name)
    stop = threading.Event()
    stop.set()  # stopped before anything was submitted: nothing runs, nothing breaks
    summary = run_extraction(root, tmp_path / "m.parquet", workers=2, stop=stop)
    assert summary.cancelled and summary.detected == 0 and summary.remaining == 40

    stop = threading.Event()

    def stop_soon(event):
        if isinstance(event, Progress) and event.done:
            stop.set()

    summary = run_extraction(root, tmp_path / "m.parquet", workers=2, chunk_size=2, on_event=stop_soon, stop=stop)
    saved = read_features(tmp_path / "m.parquet")
    # Up to two batches per worker were in flight; all of them are saved, nothing is dropped or duplicated.
    assert summary.cancelled and 2 <= summary.detected <= 2 * 2 * 2 + 2 and len(saved) == summary.detected


def test_killed_run_leaves_parts_that_the_next_run_uses(tmp_path):
    """What kill -9 leaves (part files, a half-written temp part) is picked up, not redone and not duplicated."""
    root = tmp_path / "ck"
    for src in sorted((DATASETS / "ckplus48" / "fear").iterdir())[:12]:
        _copy(src, root / "fear" / src.name)
    out = tmp_path / "f.parquet"
    run_extraction(root, out, workers=1, chunk_size=3)
    parts = tmp_path / "f.parquet.parts"
    parts.mkdir()
    table = pq.read_table(out)
    pq.write_table(table.slice(0, 3), parts / "part-000000.parquet")
    pq.write_table(table.slice(3, 3), parts / "part-000001.parquet")
    (parts / "part-000002.tmp").write_bytes(b"PAR1 half a file")
    out.unlink()
    summary = run_extraction(root, out, workers=1, chunk_size=3)
    assert (summary.detected, summary.resumed) == (6, 6)
    assert pq.read_table(out).num_rows == 12 and not parts.exists()


def test_read_features_errors_are_clear(tmp_path):
    with pytest.raises(DatasetError, match="features file not found"):
        read_features(tmp_path / "none.parquet")
    (tmp_path / "junk.parquet").write_text("junk")
    with pytest.raises(DatasetError, match="not a Parquet features file"):
        read_features(tmp_path / "junk.parquet")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "other.parquet")
    with pytest.raises(DatasetError, match="missing columns: path"):
        read_features(tmp_path / "other.parquet")


def test_refuses_to_overwrite_a_foreign_file(tmp_path):
    root = tmp_path / "ds"
    _copy(MEDIA / "single_face.jpg", root / "happy" / "a.jpg")
    (tmp_path / "precious.parquet").write_text("my notes")
    with pytest.raises(DatasetError, match="not an emotui features file; choose another --out|not an emotui features"):
        run_extraction(root, tmp_path / "precious.parquet", workers=1)
    assert (tmp_path / "precious.parquet").read_text() == "my notes"


def test_default_output_lives_under_the_data_dir(_isolated_data):
    path = features_path_for(DATASETS / "kaggle-layout-sample")
    assert path.parent == _isolated_data / "features" and path.name.startswith("kaggle-layout-sample-")
    assert features_path_for(DATASETS / "ckplus48" / "manifest.csv").name.startswith("ckplus48-")
    assert features_path_for(DATASETS / "ckplus48") != features_path_for(DATASETS / "muxspace-fe")


def test_a_single_leftover_part_becomes_the_output(tmp_path):
    root = tmp_path / "ds"
    _copy(MEDIA / "single_face.jpg", root / "happy" / "a.jpg")
    _copy(MEDIA / "multi_face.jpg", root / "happy" / "b.jpg")
    out = tmp_path / "f.parquet"
    run_extraction(root, out, workers=1)
    parts = tmp_path / "f.parquet.parts"
    parts.mkdir()
    shutil.move(out, parts / "part-000000.parquet")
    summary = run_extraction(root, out, workers=1)
    assert (summary.detected, summary.resumed) == (0, 2)
    assert len(read_features(out)) == 2 and not parts.exists()


def test_an_image_that_kills_its_worker_is_isolated_recorded_and_the_rest_is_kept(tmp_path):
    from ..crashing_worker import detect_or_die

    root = tmp_path / "ds"
    for src in sorted((DATASETS / "ckplus48" / "surprise").iterdir())[:11]:
        _copy(src, root / "surprise" / src.name)
    _copy(MEDIA / "single_face.jpg", root / "surprise" / "crash.jpg")
    events = []
    summary = run_extraction(root, tmp_path / "f.parquet", workers=2, chunk_size=3, on_event=events.append,
                             _task=detect_or_die)
    assert summary.by_status == {"ok": 11, "error": 1} and summary.remaining == 0
    frame = read_features(tmp_path / "f.parquet")
    crashed = frame[frame["path"].str.endswith("crash.jpg")].iloc[0]
    assert crashed["status"] == "error" and "worker process died" in crashed["error"]
    assert [os.path.basename(e.path) for e in events if isinstance(e, ItemFailed)] == ["crash.jpg"]


def test_runs_from_a_thread_as_the_dashboard_does(tmp_path):
    root = tmp_path / "ds"
    for src in sorted((DATASETS / "kaggle-layout-sample" / "images" / "5").iterdir()):
        _copy(src, root / "images" / "5" / src.name)
    results, events = [], []
    thread = threading.Thread(target=lambda: results.append(
        run_extraction(root, tmp_path / "f.parquet", workers=2, chunk_size=2, on_event=events.append)))
    thread.start()
    thread.join(120)
    assert results and results[0].by_status == {"ok": 6} and results[0].workers == 2
    assert isinstance(events[-1], Finished)


def test_a_second_writer_of_the_same_file_is_refused(tmp_path):
    import fcntl

    from emotui.errors import EmotuiError

    root = tmp_path / "ds"
    _copy(MEDIA / "single_face.jpg", root / "happy" / "a.jpg")
    with open(tmp_path / ".f.parquet.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(EmotuiError, match="another `emotui extract` is writing"):
            run_extraction(root, tmp_path / "f.parquet", workers=1)
    assert run_extraction(root, tmp_path / "f.parquet", workers=1).by_status == {"ok": 1}


def test_a_landmarker_failure_is_status_error_and_the_run_goes_on(tmp_path):
    root = tmp_path / "ds"
    _copy(MEDIA / "single_face.jpg", root / "happy" / "a.jpg")
    (root / "sad").mkdir()
    # A 1x5000 strip decodes fine but cannot be scaled to the landmarker's working size.
    cv2.imwrite(str(root / "sad" / "strip.png"), np.full((1, 5000, 3), 128, np.uint8))
    events = []
    summary = run_extraction(root, tmp_path / "f.parquet", workers=1, on_event=events.append)
    assert summary.by_status == {"ok": 1, "error": 1}
    strip = read_features(tmp_path / "f.parquet").query("path.str.endswith('strip.png')").iloc[0]
    assert strip["status"] == "error" and "OpenCV" in strip["error"] and (strip["width"], strip["height"]) == (5000, 1)
    assert [e.status for e in events if isinstance(e, ItemFailed)] == ["error"]
