"""run_monitor end to end: the real FaceLandmarker on the real videos of ../shared/media, the real SQLite log.

The classifier is the `predictor` fixture: the shipped default model.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

import numpy as np
import pytest

from emotui.errors import CheckpointError
from emotui.events import Finished, ItemFailed, Prediction, SourceState
from emotui.labels import CLASSES
from emotui.live.logstore import PROB_DECIMALS, LogStore
from emotui.live.monitor import run_monitor

from ..conftest import MEDIA, serve_folder
from ..streams import jpeg_frames, serve_mjpeg


def watch(source, predictor, store, **options):
    events = []
    summary = run_monitor(source, predictor=predictor, store=store, on_event=events.append, **options)
    predictions = [e for e in events if isinstance(e, Prediction)]
    return summary, predictions, events


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with LogStore(tmp_path_factory.mktemp("log") / "monitor.db") as log:
        yield log


@pytest.fixture(scope="module")
def pexels(predictor, store):
    """Every frame of the Pexels video, read --fast with --interval 0 (the issue's done-when run)."""
    return watch(MEDIA / "WolfgangLanger_Pexels.mp4", predictor, store, interval=0, fast=True, smooth=0.6)


def test_every_frame_of_a_video_gets_a_prediction(pexels, predictor, store):
    summary, predictions, events = pexels
    assert summary.reason == "source ended" and summary.frames_read == summary.frames_analysed == 472
    assert [p.frame for p in predictions] == list(range(472))
    assert {p.track for p in predictions} == {1}  # one face, one stable id
    for p in predictions:
        assert p.label in CLASSES and list(p.probabilities) == list(CLASSES)
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
        assert sum(p.smoothed.values()) == pytest.approx(1.0, abs=1e-6)
        assert p.label == max(p.smoothed, key=p.smoothed.get) and p.confidence == p.smoothed[p.label]
        assert p.uncertain == (p.confidence < 0.4)
        assert set(p.latency_ms) == {"capture", "landmarks", "classify", "classify_cpu", "total"}
        assert 0 < p.latency_ms["classify_cpu"] <= p.latency_ms["classify"] * 1.5 + 1
        assert p.latency_ms["total"] >= p.latency_ms["landmarks"] > 0
        assert p.landmarks.shape == (478, 3) and p.session == summary.session
        # the track's reference from its third face on; a model that judges each face alone never calibrates
        assert p.calibrated == ((p.frame >= 2) if predictor.uses_reference else None)
    assert len({p.label for p in predictions}) > 1  # the expression changes over the clip
    assert isinstance(events[0], SourceState) and events[0].state == "open"
    assert isinstance(events[-1], Finished) and events[-1].summary["frames_analysed"] == 472


def test_smoothing_is_an_ema_of_the_raw_probabilities(pexels):
    _, predictions, _ = pexels
    raw = np.array([[p.probabilities[c] for c in CLASSES] for p in predictions])
    smoothed = np.array([[p.smoothed[c] for c in CLASSES] for p in predictions])
    expected = raw.copy()
    for i in range(1, len(raw)):
        expected[i] = 0.6 * expected[i - 1] + 0.4 * raw[i]
    assert np.allclose(smoothed, expected)
    assert np.abs(np.diff(smoothed, axis=0)).mean() < np.abs(np.diff(raw, axis=0)).mean()


def test_the_log_holds_exactly_the_emitted_predictions(pexels, store, predictor):
    summary, predictions, _ = pexels
    info = store.session(summary.session)
    assert info.ended_cleanly is True and info.end_reason == "source ended" and info.frames == 472
    assert info.model_id == predictor.model_id and info.settings["interval"] == 0
    assert info.settings["mirror_view"] == "derive"  # at real time each view is derived from the one mesh
    rows = list(store.rows(session=summary.session))
    assert len(rows) == 472
    for row, p in zip(rows, predictions):
        assert row[2] == p.frame and row[4] == p.track and row[5] == p.label
        # to the decimals the log keeps (emotui.live.logstore.PROB_DECIMALS)
        assert row[8:16] == tuple(round(p.probabilities[c], PROB_DECIMALS) for c in CLASSES)
        assert row[16:24] == tuple(round(p.smoothed[c], PROB_DECIMALS) for c in CLASSES)


@pytest.mark.parametrize("video,face_first", [("face_noface.mov", True), ("noface_face.mov", False)])
def test_faces_leaving_and_arriving_give_no_face_records(video, face_first, predictor, store):
    summary, predictions, _ = watch(MEDIA / video, predictor, store, interval=0, fast=True)
    assert len(predictions) == summary.frames_analysed == 169  # exactly one record per frame here (one face)
    has_face = np.array([p.label is not None for p in predictions])
    assert 50 < has_face.sum() < 120 and summary.no_face_frames == (~has_face).sum()
    present, absent = (has_face[:60], has_face[90:150]) if face_first else (has_face[110:160], has_face[:80])
    assert present.all() and not absent.any()
    for p in predictions:
        if p.label is None:
            assert p.track is None and p.bbox is None and p.probabilities == {}
    rows = list(store.rows(session=summary.session))
    assert [r[5] is None for r in rows] == list(~has_face)


def test_a_video_without_faces_gives_only_no_face_records(predictor, store):
    summary, predictions, _ = watch(MEDIA / "no_face.mp4", predictor, store, interval=0, fast=True, frames=30)
    assert summary.reason == "frames" and len(predictions) == 30
    assert all(p.label is None for p in predictions)


def test_the_faces_of_an_image_folder_get_stable_tracks(tmp_path, predictor, store):
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (tmp_path / name).symlink_to(MEDIA / "multi_face.jpg")
    (tmp_path / "bb.jpg").write_bytes(b"\xff\xd8 truncated")
    summary, predictions, events = watch(tmp_path, predictor, store, interval=0, fast=True, max_faces=4)
    assert summary.frames_analysed == 3 and summary.unreadable == 1
    assert [e.status for e in events if isinstance(e, ItemFailed)] == ["unreadable"]
    by_frame = {}
    for p in predictions:
        by_frame.setdefault(p.frame, {})[p.track] = p.bbox
    assert sorted(by_frame) == [0, 1, 3] and all(set(t) == {1, 2, 3, 4} for t in by_frame.values())
    for track in (1, 2, 3, 4):  # the same face keeps its id
        assert len({by_frame[f][track] for f in by_frame}) == 1
    assert store.session(summary.session).faces == 12  # four of the five people: max_faces; small ones found too


def test_a_file_at_its_real_rate_is_watched_like_a_camera_with_fresh_frames(predictor, store):
    """single_face.mp4 (2.4 s) played at its own rate, one frame analysed every 0.5 s: each analysed frame is
    the one the 'camera' shows at that moment, not one that waited in a buffer."""
    start = time.time()
    summary, predictions, _ = watch(MEDIA / "single_face.mp4", predictor, store, interval=0.5)
    elapsed = time.time() - start
    assert elapsed >= 2.2 and summary.reason == "source ended"
    assert 4 <= summary.frames_analysed <= 6 and summary.skipped > 50
    shown = [datetime.fromisoformat(p.time).timestamp() for p in predictions]
    for p, at in zip(predictions, shown):
        # video time tracks wall time: the analysed frame is the one on show, nothing stale
        assert abs(p.source_ms / 1000.0 - (at - shown[0])) < 0.25
    gaps = np.diff([p.source_ms for p in predictions])
    assert np.all(gaps > 400) and np.all(gaps < 700)


def test_fast_with_an_interval_counts_in_video_time(predictor, store):
    summary, predictions, _ = watch(MEDIA / "WolfgangLanger_Pexels.mp4", predictor, store, interval=2.0, fast=True)
    stamps = np.array([p.source_ms for p in predictions])
    assert summary.frames_analysed == 10 and summary.frames_read == 472
    assert np.all(np.abs(np.diff(stamps) - 2000) < 50)
    # seconds apart, each frame is meshed in the mirror too (MIRROR_VIEW_FROM); at real time it is not
    assert store.session(summary.session).settings["mirror_view"] == "detect"


@pytest.mark.parametrize("interval", [0, 0.2])
def test_the_classifier_overlaps_the_next_frame_only_without_an_interval(interval, monkeypatch, predictor, store):
    """--fast --interval 0: frame N is logged after frame N+1's landmarks (its classifier ran meanwhile), still in
    frame order with one row per frame. With an interval, each analysed frame is logged before the next is taken."""
    from emotui.live import monitor

    steps, threads, calibrated = [], set(), []
    detect, predict = monitor._Watch.detect, predictor.predict_arrays

    def recording_detect(self, frame):
        steps.append(("detect", frame.index))
        return detect(self, frame)

    def recording_predict(points, blend, ref_points, ref_blend, has_ref, views=None):
        threads.add(threading.current_thread().name)
        calibrated.append(has_ref.tolist())
        return predict(points, blend, ref_points, ref_blend, has_ref, views=views)

    take = monitor._Handoff.take

    def recording_take(self, timeout):
        item = take(self, timeout)
        if item is not None and item is not monitor._END:
            steps.append(("take", item.index))
        return item

    monkeypatch.setattr(monitor._Handoff, "take", recording_take)
    monkeypatch.setattr(monitor._Watch, "detect", recording_detect)
    monkeypatch.setattr(predictor, "predict_arrays", recording_predict)
    predictions = []

    def logged(event):
        if isinstance(event, Prediction):  # emitted right after the frame's log transaction
            predictions.append(event)
            steps.append(("log", event.frame))

    summary = run_monitor(MEDIA / "single_face.mp4", predictor=predictor, store=store, interval=interval, fast=True,
                          on_event=logged)
    assert [i for kind, i in steps if kind == "take"] == list(range(summary.frames_read))
    analysed = [i for kind, i in steps if kind == "detect"]
    assert summary.reason == "source ended" and len(predictions) == summary.frames_analysed == len(analysed) > 5
    assert [p.frame for p in predictions] == analysed == sorted(analysed)
    assert [r[2] for r in store.rows(session=summary.session)] == analysed  # one row per frame, in order
    assert threads and all(name.startswith("emotui-classify") for name in threads)
    # one face, one track: its own mean face becomes its person reference from the third frame on
    assert calibrated[:3] == [[False], [False], [True]] and all(c == [True] for c in calibrated[2:])
    if interval:  # logged before the next frame is even taken: no frame waits for another
        assert all(steps.index(("log", i)) < steps.index(("take", i + 1)) for i in analysed[:-1])
    else:
        steps = [step for step in steps if step[0] != "take"]
        logged_after = [steps.index(("log", i)) > steps.index(("detect", i + 1)) for i in analysed[:-1]]
        assert sum(logged_after) > 0.5 * len(logged_after)  # overlapped, unless the decoder fell behind


def test_stop_duration_and_frame_limits_end_the_session_cleanly(predictor, store):
    stop = threading.Event()

    def stop_after_five(event):
        if isinstance(event, Prediction) and event.frame >= 4:
            stop.set()

    summary = run_monitor(MEDIA / "WolfgangLanger_Pexels.mp4", predictor=predictor, store=store, interval=0,
                          fast=True, on_event=stop_after_five, stop=stop)
    assert summary.reason == "stopped" and summary.frames_analysed == 5
    assert store.session(summary.session).ended_cleanly is True
    summary, _, _ = watch(MEDIA / "WolfgangLanger_Pexels.mp4", predictor, store, interval=0, duration=1.0)
    assert summary.reason == "duration" and 0.9 < summary.seconds < 2.5 and 5 < summary.frames_analysed <= 26


def test_frames_are_saved_only_when_asked(tmp_path, predictor, store, _isolated_data):
    summary, _, _ = watch(MEDIA / "single_face.mp4", predictor, store, interval=0, fast=True, frames=3,
                          save_frames=tmp_path / "frames")
    saved = sorted(p.name for p in (tmp_path / "frames" / summary.session).iterdir())
    assert saved == ["frame_000000.jpg", "frame_000001.jpg", "frame_000002.jpg"]
    watch(MEDIA / "single_face.mp4", predictor, store, interval=0, fast=True, frames=3)
    images = [p for root in (tmp_path, _isolated_data, store.path.parent) for p in root.rglob("*.jpg")]
    assert len(images) == 3


def test_a_model_with_other_classes_is_refused(predictor, store):
    class Wrong:
        classes = ("happy", "sad")

    with pytest.raises(CheckpointError, match="not the 8 emotui classes"):
        run_monitor(MEDIA / "single_face.mp4", predictor=Wrong(), store=store)


LIVE_FRAMES = 40


@pytest.fixture(scope="module")
def camera_frames():
    return jpeg_frames(MEDIA / "WolfgangLanger_Pexels.mp4", LIVE_FRAMES)


def test_a_lost_stream_is_retried_the_gap_recorded_and_the_session_ends_cleanly(camera_frames, predictor, store):
    """A live MJPEG camera that drops its connection, comes back once, then is gone (503)."""
    with serve_mjpeg(camera_frames, refuse_after=2) as (url, state):
        summary, predictions, events = watch(url, predictor, store, interval=0, reconnect_timeout=1.5,
                                             backoff=(0.1, 0.4))
    states = [e.state for e in events if isinstance(e, SourceState)]
    assert states[:4] == ["open", "lost", "retrying", "open"] and states[-2:] == ["lost", "ended"]
    assert states.count("retrying") >= 3  # backoff attempts before giving up
    assert summary.reason == "source lost" and state["opens"] >= 4
    assert [g["recovered"] for g in summary.gaps] == [True, False]
    logged = store.gaps(summary.session)
    assert [g["recovered"] for g in logged] == [True, False] and all(g["ended"] for g in logged)
    assert logged[1]["ended"] > logged[1]["started"]
    info = store.session(summary.session)
    assert info.ended_cleanly is True and info.end_reason == "source lost" and info.gaps == 2
    frames = [p.frame for p in predictions]
    assert frames == sorted(frames) and frames[-1] >= LIVE_FRAMES  # it carried on after the first gap


def test_a_reopen_that_gives_no_frame_is_not_a_recovery(camera_frames, predictor, store):
    """After the first connection the camera opens but sends only a broken picture: each reopen succeeds, none
    delivers, so --reconnect-timeout must still end the session (it used to count every reopen as recovered)."""
    with serve_mjpeg(camera_frames[:5], good_opens=1) as (url, state):
        started = time.monotonic()
        summary, _, events = watch(url, predictor, store, interval=0, reconnect_timeout=1.5, backoff=(0.1, 0.2),
                                   duration=20)
    assert summary.reason == "source lost" and time.monotonic() - started < 15
    assert state["opens"] >= 3 and [g["recovered"] for g in summary.gaps] == [False]
    states = [e.state for e in events if isinstance(e, SourceState)]
    assert states.count("open") == 1 and states[-2:] == ["lost", "ended"]  # never "open" again


def test_a_video_file_over_http_ends_instead_of_replaying(tmp_path, predictor, store):
    (tmp_path / "clip.mp4").symlink_to(MEDIA / "WolfgangLanger_Pexels.mp4")
    with serve_folder(tmp_path) as (base, _):
        summary, predictions, events = watch(f"{base}/clip.mp4", predictor, store, interval=1000, fast=True,
                                             duration=60)
    assert summary.reason == "source ended" and summary.gaps == []
    assert "lost" not in [e.state for e in events if isinstance(e, SourceState)]
    assert [p.frame for p in predictions] == [0]
