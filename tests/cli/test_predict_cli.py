"""`emotui predict` and `emotui evaluate` with the shipped default model, on real images and features."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from emotui.cli import cli
from emotui.errors import EmotuiError
from emotui.labels import CLASSES
from emotui.data.landmarker import Landmarker, read_image
from emotui.learn.predictor import Predictor

from ..conftest import DATASETS, MEDIA, write_features


def _emotui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotui", *args], capture_output=True, text=True, timeout=180)


def test_predict_single_face_with_no_other_argument():
    proc = _emotui("predict", str(MEDIA / "single_face.jpg"))
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert line.startswith(f"{MEDIA / 'single_face.jpg'} face 0: ")
    assert line.split(": ", 1)[1].split()[0] in CLASSES


def test_predict_json_shapes_for_faces_no_face_and_bad_files(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    images = [MEDIA / "multi_face.jpg", MEDIA / "free-mountain-vector-01.jpg", bad]
    res = CliRunner().invoke(cli, ["predict", *map(str, images), "--json"])
    assert res.exit_code == 1  # one image could not be read; the others are still reported
    assert "emotui: error: not a readable image" in res.stderr
    data = json.loads(res.stdout)
    assert data["classes"] == list(CLASSES) and data["model"]
    multi, landscape, broken = data["images"]
    assert len(multi["faces"]) == 5 and landscape["faces"] == [] and broken["error"]  # every face by default
    for face in multi["faces"]:
        assert face["label"] in CLASSES and len(face["bbox"]) == 4
        assert list(face["probabilities"]) == list(CLASSES)
        assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert face["confidence"] == pytest.approx(max(face["probabilities"].values()), abs=1e-5)


def test_predictor_api_for_the_monitor():
    predictor = Predictor.load()
    assert predictor.classes == CLASSES and predictor.model_id and len(predictor.checksum) == 64
    with Landmarker(max_faces=4) as landmarker:
        faces = landmarker.detect(read_image(MEDIA / "multi_face.jpg"))
    probs = predictor.predict(faces)
    assert probs.shape == (4, 8) and probs.dtype == np.float32
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert predictor.predict([]).shape == (0, 8)
    assert np.allclose(predictor.predict(faces[:1])[0], probs[0], atol=1e-6)  # batch size does not change a result


def test_evaluate_json_counts_faces_and_no_face_images(ck_subset_features, tmp_path):
    import pandas as pd

    table = pd.read_parquet(ck_subset_features)
    rows = table.to_dict("records")
    rows.append({"path": "x.png", "label": "happy", "subject": "nobody", "status": "no_face", "width": 48, "height": 48})
    for row in rows:  # pandas gives numpy arrays and NaN; the writer takes lists and None
        for key, value in row.items():
            if isinstance(value, np.ndarray):
                row[key] = value.tolist()
            elif isinstance(value, float) and np.isnan(value):
                row[key] = None
    path = write_features(rows, tmp_path / "with-no-face.parquet")
    res = CliRunner().invoke(cli, ["evaluate", str(path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["n_images"] == len(rows) and data["n_no_face"] == 1
    assert data["n_with_reference"] == len(rows) - 1  # every ckplus48 person here has several faces
    assert data["classes"] == list(CLASSES)
    cm = np.array(data["confusion_matrix"])
    assert cm.shape == (8, 8) and cm.sum() == len(rows) - 1
    assert data["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert data["accuracy_all"] == pytest.approx(np.trace(cm) / len(rows))
    assert set(data["per_class"]["happy"]) == {"precision", "recall", "f1", "support"}
    assert data["accuracy"] > 0.5  # the shipped model saw these people, but it must at least fit them
    table_out = CliRunner().invoke(cli, ["evaluate", str(path)])
    assert table_out.exit_code == 0 and "macro-F1" in table_out.stdout and "confusion matrix" in table_out.stdout
    # Off a terminal rich neither cuts words to fit 80 columns nor pads lines to them.
    lines = table_out.stdout.splitlines()
    assert any("contempt" in line and "surprise" in line for line in lines) and "…" not in table_out.stdout
    assert all(line == line.rstrip() for line in lines)


def test_evaluate_a_dataset_directory():
    res = CliRunner().invoke(cli, ["evaluate", str(DATASETS / "kaggle-layout-sample"), "--json"])
    if importlib.util.find_spec("emotui.data.extraction") is None:
        assert res.exit_code == 1
        assert "extraction is unavailable" in res.stderr
    else:
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["n_images"] > 0


def test_predict_same_person_judges_faces_against_their_mean(reference_model):
    """Several photos of one ckplus48 person: with --same-person each face is classified against the mean of
    them all, exactly as the monitor does for a track; without it, each on its own."""
    import csv

    from emotui.data.features import face_inputs, person_references

    with open(DATASETS / "ckplus48" / "manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["subject"] == "S010"]
    picks = [next(r for r in rows if r["label"] == label) for label in ("neutral", "anger", "happy", "surprise")]
    images = [DATASETS / "ckplus48" / r["file"] for r in picks]
    model = ["--model", str(reference_model)]
    alone = json.loads(CliRunner().invoke(cli, ["predict", *model, *map(str, images), "--json"]).stdout)
    res = CliRunner().invoke(cli, ["predict", *model, *map(str, images), "--same-person", "--json"])
    assert res.exit_code == 0, res.output
    together = json.loads(res.stdout)
    with Landmarker() as landmarker:
        faces = [landmarker.detect(read_image(path))[0] for path in images]
    points, blend, views = face_inputs(faces)
    refs = person_references(points, blend, np.zeros(len(faces)))
    expected = Predictor.load(reference_model).predict_arrays(points, blend, *refs, views=views)
    got = np.array([[img["faces"][0]["probabilities"][c] for c in CLASSES] for img in together["images"]])
    assert np.allclose(got, expected, atol=1e-5)
    before = np.array([[img["faces"][0]["probabilities"][c] for c in CLASSES] for img in alone["images"]])
    assert np.abs(got - before).max() > 0.01  # the reference changed what the model saw
    two = CliRunner().invoke(cli, ["predict", *model, *map(str, images[:2]), "--same-person", "--json"])
    assert two.exit_code == 0 and "needs faces in 3 images, found 2" in two.stderr
    assert json.loads(two.stdout)["images"] == alone["images"][:2]
    # the shipped model judges each face alone: it says so and judges them as without the flag
    default = CliRunner().invoke(cli, ["predict", *map(str, images), "--same-person", "--json"])
    assert default.exit_code == 0 and "judges each face alone: --same-person changes nothing" in default.stderr
    plain = CliRunner().invoke(cli, ["predict", *map(str, images), "--json"])
    assert json.loads(default.stdout)["images"] == json.loads(plain.stdout)["images"]


def test_predict_finds_every_face_of_the_group_photo_and_its_smiles():
    """Five people, four broad smiles: the single pass found two and called the largest smile sad (issue 10)."""
    result = CliRunner().invoke(cli, ["predict", str(MEDIA / "multi_face.jpg"), "--json"])
    assert result.exit_code == 0, result.output
    faces = json.loads(result.output)["images"][0]["faces"]
    assert len(faces) == 5
    by_x = sorted(faces, key=lambda f: f["bbox"][0] + f["bbox"][2])
    boy = by_x[2]  # the middle one, behind, with a closed mouth
    assert 430 < (boy["bbox"][0] + boy["bbox"][2]) / 2 < 520
    assert [f["label"] for f in by_x if f is not boy] == ["happy"] * 4


def test_evaluate_a_csv_manifest_shows_extraction_progress(tmp_path):
    """A manifest (path,label,subject) as `extract` takes it: extracted first, with the extraction's progress and
    skipped images on stderr, then judged; data the model was trained on is still named as such."""
    import csv

    sample = DATASETS / "kaggle-layout-sample" / "images"
    rows = [(image, image.stem.lower(), s) for s in ("0", "1") for image in sorted((sample / s).iterdir())
            if image.stem in ("Happy", "Anger", "Neutral")]
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    rows.append((tmp_path / "broken.jpg", "happy", "9"))
    manifest = tmp_path / "faces.csv"
    with manifest.open("w", newline="") as fh:
        csv.writer(fh).writerows([("path", "label", "subject"), *rows])
    res = CliRunner().invoke(cli, ["evaluate", str(manifest), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["n_images"] == len(rows) and data["n_faces"] + data["n_no_face"] + data["n_failed"] == len(rows)
    assert data["n_failed"] == 1
    # these are CK+ crops the shipped model trained on: named as such wherever its training data can be read
    # (the features files its config names, here or in the data folder), and never half-named
    if "trained_on" in data:
        assert data["trained_on"]["images_in_training"] == data["n_faces"] == len(rows) - 1
    assert f"{len(rows)}/{len(rows)}" in res.stderr and "extract done" in res.stderr
    assert f"unreadable not a readable image: {tmp_path / 'broken.jpg'}" in res.stderr  # as extract names it

    ck = [r for r in csv.DictReader(open(DATASETS / "ckplus48" / "manifest.csv"))][:4]
    seen = tmp_path / "ckplus48.csv"
    with seen.open("w", newline="") as fh:
        csv.writer(fh).writerows([("path", "label", "subject"),
                                  *[(DATASETS / "ckplus48" / r["file"], r["label"], r["subject"]) for r in ck]])
    res = CliRunner().invoke(cli, ["evaluate", str(seen)])
    assert res.exit_code == 0, res.output
    assert "warning: the model was trained on ckplus48" in res.stderr and "accuracy" in res.stdout


def test_evaluate_refuses_a_missing_manifest_in_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "none.csv")])
    assert res.exit_code == 1 and res.stderr.strip().splitlines() == [
        f"emotui: error: no such features file, dataset directory or CSV manifest: {tmp_path / 'none.csv'}"]


def test_a_balanced_prior_is_chosen_by_name_and_changes_the_probabilities(tmp_path):
    """--prior balanced drops the fitted class prior (the training data's mix): the same faces, other odds."""
    image = str(MEDIA / "multi_face.jpg")
    data = json.loads(CliRunner().invoke(cli, ["predict", image, "--json"]).stdout)
    balanced = json.loads(CliRunner().invoke(cli, ["predict", image, "--json", "--prior", "balanced"]).stdout)
    assert (data["prior"], balanced["prior"]) == ("data", "balanced")
    before, after = data["images"][0]["faces"], balanced["images"][0]["faces"]
    assert [f["bbox"] for f in before] == [f["bbox"] for f in after]
    # neutral is the data's most common class: without its prior, the unsmiling face is less likely neutral
    assert after[4]["probabilities"]["neutral"] < before[4]["probabilities"]["neutral"]
    bad = CliRunner().invoke(cli, ["predict", image, "--prior", "flat"])
    assert bad.exit_code == 2 and "'flat' is not one of 'data', 'balanced'" in bad.output
    assert Predictor.load(prior="balanced").model.logit_bias.abs().sum() == 0
    with pytest.raises(EmotuiError, match="unknown prior 'flat'"):
        Predictor.load(prior="flat")
