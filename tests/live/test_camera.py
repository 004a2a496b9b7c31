"""Frame sources on the real videos and images of ../shared/media; track ids and smoothing."""

from __future__ import annotations

import numpy as np
import pytest

from emotui.live.camera import (
    FOLDER_FPS,
    ImageFolderSource,
    SourceLost,
    UnreadableFrame,
    open_source,
    parse_resolution,
)
from emotui.errors import SourceError, UsageError
from emotui.live.smoothing import EmaSmoother
from emotui.live.tracking import Tracker, iou

from ..conftest import MEDIA, serve_folder
from ..streams import jpeg_frames, serve_mjpeg


def read_all(source):
    frames, bad = [], 0
    while True:
        try:
            frame = source.read()
        except UnreadableFrame:
            bad += 1
            continue
        if frame is None:
            return frames, bad
        frames.append(frame)


def test_a_video_file_gives_every_frame_with_its_own_timestamps():
    with open_source(MEDIA / "WolfgangLanger_Pexels.mp4") as source:
        assert source.kind == "file" and not source.live and source.fps == pytest.approx(23.976, abs=0.01)
        frames, bad = read_all(source)
    assert bad == 0 and len(frames) == 472
    assert [f.index for f in frames] == list(range(472))
    stamps = np.array([f.timestamp_ms for f in frames])
    assert stamps[0] == 0 and np.all(np.diff(stamps) > 0)
    assert stamps[-1] == pytest.approx(471 * 1000 / 23.976, abs=1)  # the video's clock, not the wall clock
    assert frames[0].rgb.shape == (360, 640, 3) and frames[0].rgb.dtype == np.uint8


def test_a_folder_is_read_in_natural_order_and_bad_images_are_skipped(tmp_path):
    for name in ("img10.jpg", "img2.jpg", "img1.jpg"):
        (tmp_path / name).symlink_to(MEDIA / "single_face.jpg")
    (tmp_path / "img3.jpg").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    source = open_source(tmp_path)
    assert isinstance(source, ImageFolderSource) and source.independent_frames
    frames, bad = read_all(source)
    assert [f.name for f in frames] == ["img1.jpg", "img2.jpg", "img10.jpg"] and bad == 1
    assert [f.timestamp_ms for f in frames] == [0.0, 1000.0 / FOLDER_FPS, 3000.0 / FOLDER_FPS]


def test_one_image_is_a_one_frame_source():
    frames, _ = read_all(open_source(MEDIA / "multi_face.jpg"))
    assert len(frames) == 1


@pytest.mark.parametrize(
    "spec,message",
    [
        ("7", r"camera 7 not found \(camera indices available: none\)"),
        ("/dev/video7", r"camera device /dev/video7 not found \(devices available: none\)"),
        ("missing.mp4", "no such file, folder, camera or stream: missing.mp4"),
        ("http://127.0.0.1:9/none.mp4", "cannot open stream"),
    ],
)
def test_sources_that_do_not_exist_get_one_clear_line(spec, message):
    with pytest.raises(SourceError, match=message) as info:
        open_source(spec)
    assert "\n" not in str(info.value)


def test_files_that_are_not_videos_and_empty_folders(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"\x00" * 1000)
    with pytest.raises(SourceError, match="cannot open .*clip.mp4 as a video"):
        open_source(tmp_path / "clip.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no images in folder"):
        open_source(tmp_path / "empty")
    with pytest.raises(SourceError, match="unknown camera backend"):
        open_source("0", backend="quicktime")


def test_resolution_parsing():
    assert parse_resolution("1280x720") == (1280, 720) and parse_resolution(None) is None
    with pytest.raises(SourceError, match="WIDTHxHEIGHT"):
        parse_resolution("720p")


@pytest.fixture()
def http_video(tmp_path):
    """The Pexels video served over HTTP by a local server: a real network stream for OpenCV's FFmpeg."""
    (tmp_path / "clip.mp4").symlink_to(MEDIA / "WolfgangLanger_Pexels.mp4")
    with serve_folder(tmp_path) as (base, server):
        yield f"{base}/clip.mp4", server


def test_a_video_file_over_http_is_not_live_and_ends_at_its_end(http_video):
    url, _ = http_video
    source = open_source(url)
    assert source.kind == "stream" and not source.live and source.frame_count == 472
    count, last = 0, -1.0
    while (frame := source.read()) is not None:  # not lost and replayed from the start: it ends
        assert frame.timestamp_ms > last
        last = frame.timestamp_ms
        count += 1
    assert count == 472


def test_a_video_over_http_that_gives_no_frame_is_one_clear_error(tmp_path):
    """single_face.mp4 has its index (moov) at the end, as cv2's mp4v writer makes them; from a server without
    byte ranges FFmpeg opens it but reads nothing. Once an error, never a reopen loop."""
    assert (MEDIA / "single_face.mp4").read_bytes().find(b"moov") > 100_000
    (tmp_path / "moov-at-end.mp4").symlink_to(MEDIA / "single_face.mp4")
    with serve_folder(tmp_path) as (base, _):
        source = open_source(f"{base}/moov-at-end.mp4")
        assert not source.live
        with pytest.raises(SourceError, match="opened but gave no frame"):
            source.read()


def test_a_live_stream_that_ends_is_lost_and_can_be_reopened():
    frames = jpeg_frames(MEDIA / "WolfgangLanger_Pexels.mp4", 12)
    with serve_mjpeg(frames, refuse_after=2) as (url, state):
        source = open_source(url)
        assert source.kind == "stream" and source.live
        count = 0
        with pytest.raises(SourceLost):
            while source.read() is not None:
                count += 1
        assert count == 12
        source.reopen()
        assert source.read().rgb.shape == (360, 640, 3)
        with pytest.raises(SourceError, match="cannot reopen http"):
            source.reopen()


# ------------------------------------------------------------------ tracking and smoothing

def test_track_ids_follow_boxes_not_list_order():
    tracker = Tracker()
    left, right = (0, 0, 100, 100), (300, 0, 400, 100)
    assert tracker.update([left, right]) == [1, 2]
    moved_left, moved_right = (10, 5, 110, 105), (290, 0, 390, 100)
    assert tracker.update([moved_right, moved_left]) == [2, 1]
    # A fast move with no overlap is still the same face when its centre is close (long intervals).
    assert tracker.update([(60, 0, 160, 100)]) == [1]


def test_a_face_that_leaves_for_long_gets_a_new_id():
    tracker = Tracker(max_missed=2)
    box = (0, 0, 100, 100)
    assert tracker.update([box]) == [1]
    assert tracker.update([]) == [] and tracker.update([]) == []
    assert tracker.update([box]) == [1]  # back within max_missed frames
    for _ in range(3):
        tracker.update([])
    assert tracker.retired == [1]
    assert tracker.update([box]) == [2]
    assert iou(box, box) == 1.0 and iou(box, (200, 200, 300, 300)) == 0.0


def test_ema_smoothing_per_track_and_disabled_at_zero():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    ema = EmaSmoother(0.75)
    assert np.allclose(ema.update(1, a), a)
    assert np.allclose(ema.update(1, b), [0.75, 0.25])
    assert np.allclose(ema.update(2, b), b)  # another face starts fresh
    ema.forget(1)
    assert np.allclose(ema.update(1, b), b)
    off = EmaSmoother(0.0)
    off.update(1, a)
    assert np.allclose(off.update(1, b), b)
    with pytest.raises(UsageError):
        EmaSmoother(1.0)
