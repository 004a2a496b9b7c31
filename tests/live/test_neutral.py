"""The person's neutral face as their reference in the monitor (emotui.live.neutral): read from a real image,
pinned to a track, carried to the next face when the track ends, refused without exactly one face."""

from __future__ import annotations

import numpy as np
import pytest

from emotui.data.features import face_inputs
from emotui.data.landmarker import Landmarker, read_image
from emotui.events import Prediction
from emotui.labels import CLASSES
from emotui.learn.predictor import Predictor
from emotui.live.logstore import LogStore
from emotui.live.monitor import run_monitor
from emotui.live.neutral import NeutralError, NeutralPins, read_neutral

from ..conftest import DATASETS, MEDIA

NEUTRAL = DATASETS / "ckplus48" / "neutral" / "S010_neutral_001-00000001.png"
PEXELS = MEDIA / "WolfgangLanger_Pexels.mp4"


@pytest.fixture(scope="module")
def group_arrays():
    """Points and descriptors of the five faces of multi_face.jpg, largest first, as the monitor computes them."""
    with Landmarker(max_faces=5) as landmarker:
        faces = landmarker.detect(read_image(MEDIA / "multi_face.jpg"))
    points, blend, _ = face_inputs(faces)
    assert len(points) == 5
    return points, blend


def _refs(n: int, points: np.ndarray, blend: np.ndarray):  # noqa: ANN202 - the running references, none known yet
    return np.zeros((n, *points.shape[1:]), np.float32), np.zeros((n, blend.shape[1]), np.float32), np.zeros(n, bool)


@pytest.mark.parametrize("image,found", [("multi_face.jpg", "5 faces found"),
                                         ("free-mountain-vector-01.jpg", "no face found")])
def test_a_neutral_image_needs_exactly_one_face(image, found):
    with pytest.raises(NeutralError) as err:
        read_neutral(MEDIA / image)
    message = str(err.value)
    assert str(MEDIA / image) in message and found in message and "\n" not in message


def test_a_neutral_image_gives_the_face_in_the_monitors_feature_spec(group_arrays):
    face = read_neutral(NEUTRAL)
    points, blend = group_arrays
    assert face.points.shape == points.shape[1:] and face.blend.shape == blend.shape[1:]
    assert face.origin == str(NEUTRAL) and np.isfinite(face.points).all() and np.abs(face.points).sum() > 0


def test_the_key_refuses_without_one_face_and_pins_a_lone_one(group_arrays):
    points, blend = group_arrays
    pins = NeutralPins()
    with pytest.raises(NeutralError, match="no face in view: the neutral face needs one"):
        pins.set_from_latest()
    pins.apply(0, [1, 2], points[:2], blend[:2], _refs(2, points, blend))
    with pytest.raises(NeutralError, match="2 faces in view: the neutral face needs one alone"):
        pins.set_from_latest()
    assert pins.status() is None and pins.drain() == []  # nothing stored by a refusal
    pins.apply(1, [2], points[1:2], blend[1:2], _refs(1, points, blend))
    assert pins.set_from_latest() == "neutral face set for face 2"
    assert pins.status() == "neutral: face 2"
    (entry,) = pins.drain()
    assert (entry["track"], entry["frame"], entry["from"]) == (2, 1, "frame 1")
    # the pinned face replaces track 2's running reference, not track 3's
    refs = _refs(2, points, blend)
    neutral = pins.apply(2, [2, 3], points[2:4], blend[2:4], refs)
    assert neutral.tolist() == [True, False] and refs[2].tolist() == [True, False]
    assert np.array_equal(refs[0][0], points[1]) and np.array_equal(refs[1][0], blend[1]) and not refs[0][1].any()


def test_a_neutral_goes_to_the_largest_free_face_and_follows_the_person_back(group_arrays):
    points, blend = group_arrays
    given = read_neutral(NEUTRAL)
    pins = NeutralPins(given)
    assert pins.status() == "neutral: waiting for a face"
    refs = _refs(2, points, blend)
    assert pins.apply(0, [1, 2], points[:2], blend[:2], refs).tolist() == [True, False]  # ids are largest first
    assert np.array_equal(refs[0][0], given.points)
    pins.forget([1])  # the face left the view long enough for its track to end
    assert pins.status() == "neutral: waiting for a face"
    refs = _refs(2, points, blend)
    assert pins.apply(9, [2, 7], points[:2], blend[:2], refs).tolist() == [True, False]  # 2 is the largest now
    assert [e["track"] for e in pins.drain()] == [1, 2] and pins.status() == "neutral: face 2"


def _watch(model, store, pins=None):  # noqa: ANN001, ANN202
    predictions = []
    summary = run_monitor(PEXELS, predictor=model, store=store, interval=0, fast=True, frames=6, neutral=pins,
                          on_event=lambda e: predictions.append(e) if isinstance(e, Prediction) else None)
    return summary, predictions


def test_a_reference_model_judges_the_watched_face_against_the_neutral(reference_model, tmp_path, monkeypatch):
    """The crying woman of the Pexels video against a CK+ neutral face: from the first frame every face has that
    reference (no waiting for the running mean), the probabilities differ from the run without it, and the
    session says which neutral it was judged by."""
    model = Predictor.load(reference_model)
    assert model.uses_reference
    given = read_neutral(NEUTRAL)
    seen = []
    predict = model.predict_arrays

    def recording(points, blend, ref_points=None, ref_blend=None, has_ref=None, **kw):  # noqa: ANN001, ANN003
        seen.append((ref_points.copy(), has_ref.copy()))
        return predict(points, blend, ref_points, ref_blend, has_ref, **kw)

    with LogStore(tmp_path / "log.db") as store:
        plain_summary, plain = _watch(model, store)
        monkeypatch.setattr(model, "predict_arrays", recording)
        summary, pinned = _watch(model, store, NeutralPins(given))
        settings = store.session(summary.session).settings
        assert "neutral" not in store.session(plain_summary.session).settings
    # the fallback before a running reference exists: a reference model still predicts, uncalibrated
    assert [p.calibrated for p in plain[:3]] == [False, False, True] and not any(p.neutral for p in plain)
    assert all(p.label in CLASSES for p in plain)
    assert [p.frame for p in pinned] == list(range(6)) and all(p.neutral and p.calibrated for p in pinned)
    assert all(has.all() and np.array_equal(ref[0], given.points) for ref, has in seen)
    diff = max(abs(a.probabilities[c] - b.probabilities[c]) for a, b in zip(plain, pinned) for c in CLASSES)
    assert diff > 0.01, diff
    assert settings["neutral_image"] == str(NEUTRAL)
    assert [(e["track"], e["frame"], e["from"]) for e in settings["neutral"]] == [(1, 0, str(NEUTRAL))]
