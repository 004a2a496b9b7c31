"""The faces' appearance (HOG of the mesh-aligned crop): read by the real landmarker from real photos, stored by
extraction, carried into training and prediction, mirrored by a permutation, and missing from older files."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from emotui.data.appearance import N_APPEARANCE, N_HOG, N_PIXELS, aligned_crop, appearance_mirror_map, crop_appearance
from emotui.errors import EmotuiError
from emotui.data.features import N_BLENDSHAPES, face_inputs, load_features, table_inputs
from emotui.data.landmarker import Landmarker, read_image

from ..conftest import MEDIA


@pytest.fixture(scope="module")
def photo_faces():
    rgb = read_image(MEDIA / "multi_face.jpg")
    with Landmarker(max_faces=5) as landmarker:
        return rgb, landmarker.detect(rgb), landmarker.detect(np.ascontiguousarray(rgb[:, ::-1]))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def test_every_face_has_an_appearance_of_its_own(photo_faces):
    _, faces, _ = photo_faces
    assert len(faces) == 5
    for face in faces:
        assert face.appearance.shape == (N_APPEARANCE,) and np.isfinite(face.appearance).all()
        assert face.appearance.max() > 0.05
    # five persons: each crop's descriptor is nearer its own than the others' mirrored ones are to each other
    assert all(_corr(faces[0].appearance, f.appearance) < 0.9 for f in faces[1:])


def test_the_mirror_map_reads_the_mirrored_photo(photo_faces):
    rgb, faces, mirrored = photo_faces
    width = rgb.shape[1]
    perm = appearance_mirror_map()
    assert sorted(perm) == list(range(N_APPEARANCE)) and np.array_equal(perm[perm], np.arange(N_APPEARANCE))
    for face in faces:  # the same person found in the mirrored photo: the closest box, mirrored back
        twin = min(mirrored, key=lambda m: abs((width - m.bbox[2]) - face.bbox[0]) + abs(m.bbox[1] - face.bbox[1]))
        assert _corr(face.appearance[perm], twin.appearance) > 0.8
        assert _corr(face.appearance[perm], twin.appearance) > _corr(face.appearance, twin.appearance)
    crop = aligned_crop(rgb, faces[0].landmarks)  # on one crop the map is all but exact
    assert _corr(crop_appearance(crop)[perm], crop_appearance(crop[:, ::-1])) > 0.95


def test_face_inputs_append_the_appearance_and_mirror_it_for_views(photo_faces):
    _, faces, _ = photo_faces
    points, blend, (view_points, view_blend, has) = face_inputs(faces)
    assert blend.shape == (5, N_BLENDSHAPES + N_APPEARANCE) and has.all()
    assert np.array_equal(blend[:, N_BLENDSHAPES:], np.stack([f.appearance for f in faces]))
    assert np.array_equal(view_blend[:, N_BLENDSHAPES:], blend[:, N_BLENDSHAPES:][:, appearance_mirror_map()])
    without = Landmarker(max_faces=5, appearance=False)
    with without:
        plain = without.detect(read_image(MEDIA / "multi_face.jpg"))
    assert all(f.appearance is None for f in plain) and face_inputs(plain)[1].shape == (5, N_BLENDSHAPES)


def test_extraction_stores_it_and_older_files_go_without(ck_subset_features, tmp_path):
    table = pq.read_table(ck_subset_features)
    fs = load_features([ck_subset_features])
    assert fs.blendshapes.shape[1] == N_BLENDSHAPES + N_APPEARANCE and fs.view_blend.shape == fs.blendshapes.shape
    assert all(s["appearance"] for s in fs.sources)
    old = tmp_path / "old.parquet"
    pq.write_table(table.drop_columns(["appearance"]), old)
    assert load_features([old]).blendshapes.shape[1] == N_BLENDSHAPES
    warnings = []
    mixed = load_features([ck_subset_features, old], on_warning=warnings.append)
    assert mixed.blendshapes.shape[1] == N_BLENDSHAPES and mixed.view_blend.shape[1] == N_BLENDSHAPES
    assert len(warnings) == 1 and "old.parquet" in warnings[0] and "extract again" in warnings[0]


def test_a_model_of_appearance_refuses_faces_without_it(ck_subset_features, tmp_path):
    from emotui.learn.evaluation import evaluate
    from emotui.learn.predictor import Predictor
    from emotui.learn.training import config_for, run_training

    out = tmp_path / "m"
    run_training([ck_subset_features], out, epochs=2, test_fraction=0.2, val_fraction=0.15, seed=1)
    predictor = Predictor.load(out)
    arch = predictor.config["architecture"]  # the default size reads the HOG and the crop's pixels
    assert arch["appearance"] == N_HOG + arch["crop_side"] ** 2 and arch["crop_grid"] > 0
    assert evaluate(ck_subset_features, predictor=predictor)["n_faces"] > 300
    old = tmp_path / "old.parquet"
    pq.write_table(pq.read_table(ck_subset_features).drop_columns(["appearance"]), old)
    with pytest.raises(EmotuiError, match="appearance.*extract it again"):
        evaluate(old, predictor=predictor)
    plain = tmp_path / "plain"  # and one trained without it reads the new files all the same
    run_training([ck_subset_features], plain, epochs=1, test_fraction=0.2, val_fraction=0.15, seed=1,
                 config=config_for("mlp", appearance=False))
    assert Predictor.load(plain).config["architecture"]["appearance"] == 0
    assert evaluate(ck_subset_features, model_dir=plain)["n_faces"] > 300


def test_extracting_an_older_file_again_adds_the_appearance(ck_subset_features, tmp_path):
    from emotui.data.extraction import run_extraction

    manifest = ck_subset_features.with_suffix(".csv").parent / "ckplus48.csv"
    rows = pq.read_table(ck_subset_features).slice(0, 12)
    out = tmp_path / "old.parquet"
    pq.write_table(rows.drop_columns(["appearance"]), out)
    import pandas as pd

    small = tmp_path / "few.csv"
    pd.read_csv(manifest)[lambda d: d["path"].isin(rows.column("path").to_pylist())].to_csv(small, index=False)
    run_extraction(small, out, workers=1)
    again = pq.read_table(out).to_pandas()
    faces = again[again["status"] == "ok"]
    assert len(again) == 12 and faces["appearance"].map(len).eq(N_HOG).all() and faces["crop"].map(len).eq(N_PIXELS).all()


def test_a_model_of_crop_tokens_reads_the_pixels_and_refuses_files_without_them(ck_subset_features, tmp_path):
    from emotui.learn.evaluation import evaluate
    from emotui.learn.predictor import Predictor
    from emotui.learn.training import config_for, run_training

    out = tmp_path / "crop"
    run_training([ck_subset_features], out, epochs=2, test_fraction=0.2, val_fraction=0.15, seed=1,
                 model_size="transformer-crop", config=config_for("transformer-crop"))
    predictor = Predictor.load(out)
    arch = predictor.config["architecture"]
    assert arch["appearance"] == N_APPEARANCE and arch["crop_side"] == 48 and arch["crop_grid"] == 3
    assert evaluate(ck_subset_features, predictor=predictor)["n_faces"] > 300
    # the pixels change what it says: the same faces with their crops blanked read differently
    table = pq.read_table(ck_subset_features)
    points, blend, views = table_inputs(table.to_pandas().query("status == 'ok'").head(40))
    grey = blend.copy()
    grey[:, -N_PIXELS:] = 0.5
    assert not np.allclose(predictor.predict_arrays(points, blend), predictor.predict_arrays(points, grey), atol=1e-3)
    old = tmp_path / "old.parquet"
    pq.write_table(table.drop_columns(["crop"]), old)
    with pytest.raises(EmotuiError, match="appearance.*extract it again"):
        evaluate(old, predictor=predictor)


def test_files_with_and_without_crops_train_on_the_hog_and_name_the_older_file(ck_subset_features, tmp_path):
    table = pq.read_table(ck_subset_features)
    old = tmp_path / "old.parquet"
    pq.write_table(table.drop_columns(["crop"]), old)
    warnings: list[str] = []
    fs = load_features([ck_subset_features, old], on_warning=warnings.append)
    assert fs.blendshapes.shape[1] == N_BLENDSHAPES + N_HOG
    assert len(warnings) == 1 and "old.parquet" in warnings[0] and "no face crops" in warnings[0]
    assert ck_subset_features.name not in warnings[0]
