"""Each face meshed twice, once in the mirrored image (mirror view "detect"; the default derives the view from the one
detection, tests/data/test_mirror_derive.py): stored by extraction, used as training data, averaged in by every
prediction path. Real MediaPipe, real shared images, a real features file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emotui.data.features import blendshape_mirror_map, face_arrays, face_inputs, load_features, mirror_map
from emotui.data.landmarker import Landmarker, read_image

from ..conftest import MEDIA, extract_ferplus_subset


@pytest.fixture(scope="module")
def faces():
    with Landmarker(max_faces=5, mirror_view="detect") as landmarker:
        return landmarker.detect(read_image(MEDIA / "multi_face.jpg"))


@pytest.fixture(scope="module")
def ferplus_detected(tmp_path_factory):  # noqa: ANN001
    """The ferplus subset with each view a second detection: a derived view is the face's own mirror image, which
    the classifier averages in already, so only a detected one can change a prediction."""
    return extract_ferplus_subset(tmp_path_factory.mktemp("ferplus-detect"), mirror_view="detect")


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).sum(-1).mean()))


def test_each_face_has_a_view_of_itself_in_the_mirror(faces):
    assert len(faces) == 5 and all(f.mirror_view is not None for f in faces)
    points, _ = face_arrays(faces)
    inputs, _, (view_points, _, has) = face_inputs(faces)
    np.testing.assert_allclose(inputs, points, atol=1e-6)  # the faces' own arrays, as face_arrays gives them
    assert has.all()
    assert all(0 < _rms(points[i], view_points[i]) < 0.2 for i in range(len(faces)))  # a second, own reading
    width = read_image(MEDIA / "multi_face.jpg").shape[1]
    for face in faces:  # the view's box is the face's box, mirrored
        x0, _, x1, _ = face.mirror_view.bbox
        assert abs((width - x1) - face.bbox[0]) < 0.15 * (face.bbox[2] - face.bbox[0])


def test_no_view_without_the_option(faces):
    with Landmarker(max_faces=5, mirror_view=False) as landmarker:
        plain = landmarker.detect(read_image(MEDIA / "multi_face.jpg"))
    assert len(plain) == 5 and all(f.mirror_view is None for f in plain)


def test_prediction_averages_the_face_and_its_view(faces, predictor):
    points, blend = face_arrays(faces)
    views = face_inputs(faces)[2]
    alone = predictor.predict_arrays(points, blend)
    view_alone = predictor.predict_arrays(views[0], views[1])
    both = predictor.predict(faces)
    assert np.allclose(both, (alone + view_alone) / 2, atol=1e-5)
    assert np.abs(both - alone).max() > 1e-4  # the view changed something
    assert (both.argmax(1)[:4] == predictor.classes.index("happy")).all()  # the four broad smiles


def test_features_file_keeps_views_and_old_files_still_load(ck_subset_features, tmp_path):
    fs = load_features([ck_subset_features])
    assert fs.has_view.mean() > 0.95 and np.isfinite(fs.view_points).all()
    table = pq.read_table(ck_subset_features)
    old = tmp_path / "old.parquet"  # a file of emotui before the mirror views
    pq.write_table(table.drop_columns(["mirror_landmarks", "mirror_blendshapes", "mirror_transform"]), old)
    loaded = load_features([old])
    assert len(loaded) == len(fs) and not loaded.has_view.any()
    assert np.array_equal(loaded.points, fs.points)
    df = table.to_pandas()
    df.loc[df.index[0], "mirror_landmarks"] = np.zeros(5, dtype=np.float32)  # damaged: that view is dropped
    damaged = tmp_path / "damaged.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), damaged)
    hurt = load_features([damaged])
    assert len(hurt) == len(fs) and not hurt.has_view[0] and hurt.has_view[1:].sum() == fs.has_view[1:].sum()


def test_training_rows_are_each_face_and_its_view(ck_subset_features):
    fs = load_features([ck_subset_features])
    idx = np.arange(20)
    rows = fs.with_view_rows(idx, mirror_map(fs.points.mean(0)), blendshape_mirror_map(fs.blendshapes.shape[1]))
    n_views = int(fs.has_view[idx].sum())
    assert len(rows) == 20 + n_views
    assert np.array_equal(rows.points[20:], fs.view_points[idx][fs.has_view[idx]])
    assert list(rows.subjects[20:]) == list(fs.subjects[idx][fs.has_view[idx]])  # same person: splits keep them together
    assert np.array_equal(rows.labels[20:], fs.labels[idx][fs.has_view[idx]])
    assert not rows.has_view.any() or not rows.has_view[20:].any()


def test_evaluate_uses_the_views(ferplus_detected, predictor, tmp_path):
    from emotui.learn.evaluation import evaluate

    with_views = evaluate(ferplus_detected, predictor=predictor)
    old = tmp_path / "old.parquet"
    table = pq.read_table(ferplus_detected)
    pq.write_table(table.drop_columns(["mirror_landmarks", "mirror_blendshapes", "mirror_transform"]), old)
    without = evaluate(old, predictor=predictor)
    assert with_views["n_images"] == without["n_images"]
    assert pd.notna(with_views["accuracy"]) and with_views["confusion_matrix"] != without["confusion_matrix"]
