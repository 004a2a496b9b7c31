"""`emotui extract --engine ray`: the same features file as the local engine, from a real local Ray instance
(loopback, 2 CPUs, started once for the module), resumable, surviving a killed actor; one-line errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest

pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[test]' brings it)")

from emotui.events import Finished, ItemFailed, Progress  # noqa: E402
from emotui.data.extraction import read_features  # noqa: E402

from ..conftest import DATASETS, MEDIA, SHARED_TASK, extract_subset, shared_manifest  # noqa: E402

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def ray_instance():
    """The product's own local session (token, loopback address, no dashboard); runs in this process reuse it."""
    from emotui.data.extraction_ray import ray_session

    with ray_session(None, 2) as cpus:
        yield cpus


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[dict]:  # noqa: ANN001
    """48 ckplus48 faces over every class, two large photos (one with several faces), one with no face and a file
    that is no image: every status but "error"."""
    manifest = shared_manifest("ckplus48")
    picked = [r for c in sorted({r["label"] for r in manifest}) for r in [m for m in manifest if m["label"] == c][:6]]
    broken = tmp_path_factory.mktemp("broken") / "not-an-image.jpg"
    broken.write_bytes(b"this is not a JPEG")
    extra = [(MEDIA / "multi_face.jpg", "happy"), (MEDIA / "single_face.jpg", "neutral"),
             (MEDIA / "free-mountain-vector-01.jpg", "neutral"), (broken, "sad")]
    return picked + [{"file": str(path), "label": label, "subject": "photo"} for path, label in extra]


@pytest.fixture(scope="module")
def local_features(rows, tmp_path_factory):  # noqa: ANN001
    return read_features(extract_subset("ckplus48", rows, tmp_path_factory.mktemp("local"), out_name="local",
                                        columns=["label", "subject"], max_faces=2))


def extract_on_ray(rows, folder, **options):  # noqa: ANN001, ANN003, ANN201
    out = extract_subset("ckplus48", rows, folder, out_name="ray", columns=["label", "subject"], max_faces=2,
                         **{"engine": "ray", "workers": 2, **options})
    return read_features(out)


def assert_same_features(ray, local) -> None:  # noqa: ANN001
    key = ["path", "face"]
    ray, local = ray.sort_values(key).reset_index(drop=True), local.sort_values(key).reset_index(drop=True)
    assert list(ray.columns) == list(local.columns)
    for column in ("path", "face", "label", "subject", "status", "error", "width", "height", "n_faces", "size",
                   "mtime_ns", "landmarker"):
        assert ray[column].tolist() == local[column].tolist(), column
    for column in ("landmarks", "blendshapes", "transform", "bbox"):
        for mine, theirs in zip(ray[column], local[column]):
            assert (mine is None) == (theirs is None), column
            if mine is not None:
                np.testing.assert_allclose(mine, theirs, atol=1e-4, rtol=1e-4, err_msg=column)


def test_ray_writes_the_features_file_the_local_engine_writes(ray_instance, rows, local_features, tmp_path):  # noqa: ANN001
    events = []
    features = extract_on_ray(rows, tmp_path, on_event=events.append)
    assert_same_features(features, local_features)
    assert set(local_features["status"]) == {"ok", "no_face", "unreadable"}
    assert (local_features["path"] == str(MEDIA / "multi_face.jpg")).sum() == 2  # --max-faces 2 rows
    finished = [e for e in events if isinstance(e, Finished)]
    summary = finished[0].summary
    assert summary["engine"] == "ray" and summary["workers"] == 2 and summary["detected"] == len(rows)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done == progress[-1].total == len(rows)
    assert progress[-1].counts == {"ok": len(rows) - 2, "no_face": 1, "unreadable": 1}


def _actor_processes() -> list:  # noqa: ANN202
    import psutil

    found = []
    for child in psutil.Process().children(recursive=True):  # only the Ray instance this test process started
        try:
            if "MapWorker" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def test_a_killed_actor_is_restarted_and_every_image_is_done(ray_instance, rows, local_features, tmp_path):  # noqa: ANN001
    # The landmarker is gone from disk by the time the actor restarts: only the shipped bytes can rebuild it.
    model = tmp_path / "face_landmarker.task"
    model.write_bytes(SHARED_TASK.read_bytes())
    killed = []

    def kill_one(event) -> None:  # noqa: ANN001
        if isinstance(event, Progress) and event.done and not killed:
            model.unlink()
            actors = _actor_processes()
            assert actors, "no Ray actor process found"
            killed.append(actors[0].pid)
            os.kill(actors[0].pid, signal.SIGKILL)

    features = extract_on_ray(rows, tmp_path, on_event=kill_one, landmarker=model, chunk_size=2)
    assert killed
    assert_same_features(features, local_features)  # no image lost or marked as crashed


def test_stopped_then_run_again_resumes_without_redoing_saved_images(ray_instance, rows, local_features,  # noqa: ANN001
                                                                     tmp_path):
    stop = threading.Event()
    first: list = []

    def stop_early(event) -> None:  # noqa: ANN001
        first.append(event)
        if isinstance(event, Progress) and event.done:
            stop.set()

    partial = extract_on_ray(rows, tmp_path, on_event=stop_early, stop=stop, chunk_size=4)
    summary = next(e for e in first if isinstance(e, Finished)).summary
    assert summary["cancelled"] and 0 < summary["detected"] < len(rows)
    saved = partial["path"].nunique()
    assert saved == summary["detected"]

    again: list = []
    features = extract_on_ray(rows, tmp_path, on_event=again.append, chunk_size=4)
    summary = next(e for e in again if isinstance(e, Finished)).summary
    assert summary["resumed"] == saved and summary["detected"] == len(rows) - saved and not summary["cancelled"]
    assert next(e for e in again if isinstance(e, Progress)).total == len(rows) - saved
    assert_same_features(features, local_features)


def test_an_image_that_kills_every_actor_is_recorded_and_the_rest_is_extracted(ray_instance, rows, local_features,  # noqa: ANN001
                                                                               tmp_path):
    """Ray restarts the actor and retries the batch, which kills it again: the run must still end, with the
    poison image recorded as the cause and every other image extracted."""
    import ray.cloudpickle

    from .. import crashing_worker

    # The actors import emotui, not this test package: the crashing batch function travels by value.
    ray.cloudpickle.register_pickle_by_value(crashing_worker)
    poison = tmp_path / "crash.jpg"
    poison.write_bytes((MEDIA / "single_face.jpg").read_bytes())  # a good image: only its name kills
    picked = rows[:12] + [{"file": str(poison), "label": "happy", "subject": "photo"}]
    events: list = []
    try:
        features = extract_on_ray(picked, tmp_path, on_event=events.append, chunk_size=4,
                                  _task=crashing_worker.detect_or_die)
    finally:
        ray.cloudpickle.unregister_pickle_by_value(crashing_worker)
    crashed = features[features["path"] == str(poison)]
    assert crashed["status"].tolist() == ["error"]
    assert "worker process died" in crashed["error"].iloc[0]
    assert_same_features(features[features["path"] != str(poison)],
                         local_features[local_features["path"].isin([str(DATASETS / "ckplus48" / r["file"])
                                                                     for r in rows[:12]])])
    summary = next(e for e in events if isinstance(e, Finished)).summary
    assert summary["by_status"] == {"ok": 12, "error": 1} and summary["remaining"] == 0
    assert [os.path.basename(e.path) for e in events if isinstance(e, ItemFailed)] == ["crash.jpg"]


def _emotui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotui", *args], capture_output=True, text=True, timeout=120)


def test_an_unreachable_address_is_one_line(tmp_path):  # noqa: ANN001
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = _emotui("extract", str(DATASETS / "kaggle-layout-sample"), "--out", str(tmp_path / "f.parquet"),
                   "--engine", "ray", "--address", f"127.0.0.1:{port}")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"emotui: error: cannot reach the Ray cluster at 127.0.0.1:{port}: Connection refused "
        "(is `ray start --head` running there, and is the port open?)"]
    assert not (tmp_path / "f.parquet").exists()


def test_without_ray_the_error_names_the_extra(tmp_path):  # noqa: ANN001
    code = ("import sys; sys.modules['ray'] = None; from emotui.cli import main; "
            "sys.argv = ['emotui'] + sys.argv[1:]; main()")
    done = subprocess.run([sys.executable, "-c", code, "extract", str(DATASETS / "kaggle-layout-sample"), "--out",
                           str(tmp_path / "f.parquet"), "--engine", "ray"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "emotui: error: --engine ray needs Ray (ray is not installed): pip install 'emotui[ray]'"]


def test_the_dashboard_extracts_on_ray_when_chosen(ray_instance):  # noqa: ANN001
    """The extraction pane's Engine choice, through the real jobs: progress, tallies and the features file."""
    from textual.widgets import Select

    from emotui.tui.app import EmotuiApp, Settings
    from emotui.tui.extract_pane import ExtractPane

    from ..tui_helpers import notifications, run, text_of, wait_until

    sample = DATASETS / "kaggle-layout-sample"

    async def scenario() -> None:
        app = EmotuiApp(Settings(data=sample))
        async with app.run_test(size=(100, 30)) as pilot:
            extract = app.query_one(ExtractPane)
            await wait_until(pilot, lambda: "layout: kaggle" in text_of(app, "#layout"), timeout=60, what="layout")
            app.query_one("#engine", Select).value = "ray"
            await pilot.press("e")
            await wait_until(pilot, lambda: extract.headline in ("done", "failed"), timeout=200, what="extraction")
            assert extract.headline == "done", (notifications(app), text_of(app, "#extract-rate"))
            assert "49/49" in text_of(app, "#extract-rate") and "ok 49" in text_of(app, "#tallies").replace("  ", " ")
        features = read_features(extract.features)
        assert features["path"].nunique() == 49 and (features["status"] == "ok").all()

    run(scenario())
