"""`emotui evaluate` names the images a model trained on by their content, not their paths: real ckplus48 crops,
copied, re-saved and re-encoded into a Kaggle-layout folder, against a tiny model trained on some of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from emotui.cli import cli

from ..conftest import DATASETS, extract_subset, shared_manifest

CK = DATASETS / "ckplus48"
FOCUS, OTHER, UNSEEN = "S011", "S010", "S035"  # trained (but for its sad sequence), trained, never trained
LEFT_OUT = "sad"  # FOCUS's sad sequence is left out of training: the same person, an unseen picture


@pytest.fixture(scope="module")
def trained(tmp_path_factory):  # noqa: ANN001, ANN201 - (model dir, features file, manifest rows)
    """A tiny model trained 1 epoch on 6 ckplus48 persons' crops (all but FOCUS's sad sequence)."""
    from emotui.learn.training import run_training

    manifest = shared_manifest("ckplus48")
    persons = sorted({r["subject"] for r in manifest})[:6]
    assert {FOCUS, OTHER} <= set(persons) and UNSEEN not in persons
    rows = [r for r in manifest if r["subject"] in persons and not (r["subject"] == FOCUS and r["label"] == LEFT_OUT)]
    folder = tmp_path_factory.mktemp("overlap")
    features = extract_subset("ckplus48", rows, folder, out_name="ck-train", columns=["label", "subject"])
    model = folder / "model"
    run_training([features], model, epochs=1, model_size="tiny", test_fraction=0.2, val_fraction=0.2, seed=0)
    return model, features, manifest


def _middle(manifest: list[dict], subject: str, label: str) -> Path:
    frames = [r for r in manifest if r["subject"] == subject and r["label"] == label]
    return CK / frames[len(frames) // 2]["file"]


def _kaggle_folder(root: Path, manifest: list[dict]) -> dict[str, Path]:
    """images/<set>/<Emotion>.<ext>: set 0 holds three trained pictures (a PNG's bytes, a picture re-saved as
    PNG, one re-encoded as JPEG); set 1 FOCUS's left-out sad picture; set 2 two of a person never trained on."""
    import cv2

    images = root / "images"
    for s in "012":
        (images / s).mkdir(parents=True)
    shutil.copyfile(_middle(manifest, FOCUS, "happy"), images / "0" / "Happy.png")
    picture = cv2.imread(str(_middle(manifest, FOCUS, "surprise")))
    cv2.imwrite(str(images / "0" / "Surprised.png"), picture, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert (images / "0" / "Surprised.png").read_bytes() != _middle(manifest, FOCUS, "surprise").read_bytes()
    cv2.imwrite(str(images / "0" / "Anger.jpg"), cv2.imread(str(_middle(manifest, OTHER, "anger"))),
                [cv2.IMWRITE_JPEG_QUALITY, 80])
    shutil.copyfile(_middle(manifest, FOCUS, LEFT_OUT), images / "1" / "Sad.png")
    for label in ("disgust", "happy"):
        shutil.copyfile(_middle(manifest, UNSEEN, label), images / "2" / f"{label.capitalize()}.png")
    return {str(p.relative_to(images)): p for p in sorted(images.rglob("*.*"))}


def _evaluate(model: Path, data: Path) -> tuple[dict, str]:
    res = CliRunner().invoke(cli, ["evaluate", "--model", str(model), str(data), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout), res.stderr


def test_evaluate_counts_the_trained_pictures_by_content(trained, tmp_path):
    model, _, manifest = trained
    files = _kaggle_folder(tmp_path / "faces-sample", manifest)
    assert len(files) == 6
    data, stderr = _evaluate(model, tmp_path / "faces-sample")
    assert data["n_images"] == 6
    seen = data["trained_on"]
    assert (seen["images_in_training"], seen["images_evaluated"]) == (3, 6)  # set 0's three, not the sad or set 2
    assert seen["by_source"] == {"ck-train": 3} and seen["name"] == "ck-train" and seen["same_file"] is False
    assert "warning: the model was trained on ck-train" in stderr
    assert "3 of 6 evaluated images were in the training data" in stderr and "flatter" in stderr

    for name in ("0/Happy.png", "0/Surprised.png", "0/Anger.jpg"):
        files[name].unlink()
    data, stderr = _evaluate(model, tmp_path / "faces-sample")  # the unseen ones alone: no warning
    assert data["n_images"] == 3 and "trained_on" not in data and "flatter" not in stderr


def test_training_images_are_found_by_name_when_the_features_file_moved(trained, tmp_path, _isolated_data):
    """The model's features file gone from where training read it: a features file of its name in
    <data>/features (as `emotui extract --out` writes), else a dataset folder of its name beside DATA."""
    model, features, manifest = trained
    moved = tmp_path / "model"
    shutil.copytree(model, moved)
    config = json.loads((moved / "config.json").read_text())
    config["training"]["data"][0]["path"] = str(tmp_path / "gone" / "ck-train.parquet")
    (moved / "config.json").write_text(json.dumps(config))
    sample = tmp_path / "datasets" / "faces-sample"
    _kaggle_folder(sample, manifest)

    data, stderr = _evaluate(moved, sample)
    assert "trained_on" not in data and data["n_images"] == 6  # nowhere to be found: nothing claimed

    beside = tmp_path / "datasets" / "ck-train" / "happy"  # a dataset folder named as the training data
    beside.mkdir(parents=True)
    (beside / "a.png").symlink_to(_middle(manifest, FOCUS, "happy"))
    data, stderr = _evaluate(moved, sample)
    assert data["trained_on"]["images_in_training"] == 1 and "1 of 6 evaluated images" in stderr

    (_isolated_data / "features").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(features, _isolated_data / "features" / "ck-train.parquet")
    data, stderr = _evaluate(moved, sample)
    assert data["trained_on"]["images_in_training"] == 3 and "3 of 6 evaluated images" in stderr
