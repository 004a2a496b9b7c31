"""Dataset discovery on the real layouts in ../shared and on small layouts built in tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emotui.data.datasets import describe_unknown, discover
from emotui.errors import DatasetError
from emotui.labels import CLASSES

from ..conftest import DATASETS, MEDIA

KAGGLE = DATASETS / "kaggle-layout-sample"


def _image(path: Path) -> Path:
    """A real JPEG (discovery never decodes, extraction tests do)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(MEDIA / "single_face.jpg", path)
    return path


def test_kaggle_layout_sets_are_subjects_and_emotions_csv_columns_are_kept():
    frame = discover(KAGGLE)
    files = sorted(p for p in (KAGGLE / "images").rglob("*") if p.is_file())
    assert len(frame) == len(files) == 49
    assert frame.attrs["layout"] == "kaggle" and frame.attrs["unknown_labels"] == {}
    assert set(frame["label"]) <= set(CLASSES)
    by_path = frame.set_index("path")
    surprised = next(p for p in files if p.parent.name == "3" and p.stem == "Surprised")
    assert by_path.loc[str(surprised), "label"] == "surprise"
    assert by_path.loc[str(surprised), "subject"] == "3"
    assert set(frame.loc[frame["subject"] == "3", "path"]) == {str(p) for p in files if p.parent.name == "3"}
    assert {"gender", "age", "country"} <= set(frame.columns)
    assert frame.loc[frame["subject"] == "3", "gender"].iloc[0] == "unknown"
    assert frame["path"].map(lambda p: Path(p).is_absolute() and Path(p).is_file()).all()


@pytest.mark.parametrize("name, images, subjects", [("ckplus48", 1556, 123), ("muxspace-fe", 3800, None)])
def test_class_folders_take_subjects_from_their_manifest(name, images, subjects):
    import pandas as pd

    root = DATASETS / name
    frame = discover(root)
    manifest = pd.read_csv(root / "manifest.csv", dtype={"subject": str})
    assert frame.attrs["layout"] == "folders" and len(frame) == images == len(manifest)
    expected = dict(zip((str(root / f) for f in manifest["file"]), manifest["subject"]))
    assert frame.set_index("path")["subject"].to_dict() == expected
    assert frame["subject"].nunique() == (subjects or manifest["subject"].nunique())
    assert (frame["label"] == frame["path"].map(lambda p: Path(p).parent.name)).all()


def test_split_folders_with_synonyms_and_a_manifest_per_split(tmp_path):
    _image(tmp_path / "train" / "Happiness" / "a.jpg")
    _image(tmp_path / "train" / "ANGRY" / "b.jpg")
    _image(tmp_path / "test" / "Surprised" / "c.png")
    (tmp_path / "train" / "manifest.csv").write_text("file,label,subject\nHappiness/a.jpg,happy,p1\nANGRY/b.jpg,anger,p2\n")
    (tmp_path / "README.txt").write_text("not an image")
    frame = discover(tmp_path).set_index("path")
    assert frame.attrs["layout"] == "folders"
    a, b, c = (str(tmp_path / p) for p in ("train/Happiness/a.jpg", "train/ANGRY/b.jpg", "test/Surprised/c.png"))
    assert frame.loc[[a, b, c], "label"].tolist() == ["happy", "anger", "surprise"]
    assert frame.loc[[a, b], "subject"].tolist() == ["p1", "p2"]
    assert frame.loc[c, "subject"] == "test/Surprised/c"  # no manifest: each image is its own subject
    assert frame.loc[[a, b, c], "split"].tolist() == ["train", "train", "test"]


def test_unknown_labels_are_reported_with_their_file_counts_never_guessed(tmp_path):
    for name in ("x.jpg", "y.jpg"):
        _image(tmp_path / "confused" / name)
    _image(tmp_path / "happy" / "z.jpg")
    _image(tmp_path / "Bored" / "w.jpg")
    frame = discover(tmp_path)
    assert frame["label"].tolist() == ["happy"]
    assert frame.attrs["unknown_labels"] == {"confused": 2, "Bored": 1}
    assert describe_unknown(frame.attrs["unknown_labels"]) == "confused (2 files), Bored (1 file)"


def test_kaggle_layout_reports_unknown_emotion_files(tmp_path):
    _image(tmp_path / "images" / "7" / "Happy.jpg")
    _image(tmp_path / "images" / "7" / "Bored.JPG")
    frame = discover(tmp_path)
    assert frame.attrs["layout"] == "kaggle" and frame["subject"].tolist() == ["7"]
    assert frame.attrs["unknown_labels"] == {"Bored": 1}


def test_only_unknown_labels_is_an_error_naming_them(tmp_path):
    _image(tmp_path / "images" / "1" / "Confused.jpg")
    _image(tmp_path / "images" / "2" / "Confused.jpg")
    with pytest.raises(DatasetError, match=r"no image .* known expression label; unknown: Confused \(2 files\)"):
        discover(tmp_path)


def test_csv_manifest_file_with_relative_paths(tmp_path):
    _image(tmp_path / "pics" / "one.jpg")
    _image(tmp_path / "pics" / "two.jpg")
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label,subject,session\npics/one.jpg,Fearful,s1,am\npics/two.jpg,Sadness,s2,pm\npics/three.jpg,Meh,s3,pm\n")
    frame = discover(csv)
    assert frame.attrs["layout"] == "manifest"
    assert frame["label"].tolist() == ["fear", "sad"] and frame["subject"].tolist() == ["s1", "s2"]
    assert frame["session"].tolist() == ["am", "pm"]
    assert frame["path"].tolist() == [str(tmp_path / "pics" / "one.jpg"), str(tmp_path / "pics" / "two.jpg")]
    assert frame.attrs["unknown_labels"] == {"Meh": 1}
    # The same manifest named manifest.csv inside a folder without class folders is found too.
    shutil.copy(csv, tmp_path / "manifest.csv")
    assert discover(tmp_path)["label"].tolist() == ["fear", "sad"]


def test_manifest_without_the_needed_columns(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("image_name,score\na.jpg,3\n")
    with pytest.raises(DatasetError, match="needs path and label columns"):
        discover(csv)


@pytest.mark.parametrize("case", ["missing", "empty", "no_layout", "flat_images", "not_csv"])
def test_unusable_datasets_raise_one_line_errors(tmp_path, case):
    target = tmp_path / "ds"
    if case == "empty":
        target.mkdir()
    elif case == "no_layout":
        (target / "docs").mkdir(parents=True)
        (target / "docs" / "notes.txt").write_text("hello")
    elif case == "flat_images":
        _image(target / "IMG_0001.jpg")
    elif case == "not_csv":
        target = _image(tmp_path / "photo.jpg")
    expected = {"missing": "dataset not found", "empty": "dataset folder is empty",
                "no_layout": "no recognisable dataset layout", "flat_images": "no recognisable dataset layout",
                "not_csv": "not a CSV manifest"}[case]
    with pytest.raises(DatasetError, match=expected) as info:
        discover(target)
    assert "\n" not in str(info.value)


def test_kaggle_images_folder_itself_with_emotions_csv_beside_it():
    frame = discover(KAGGLE / "images")
    assert frame.attrs["layout"] == "kaggle" and len(frame) == 49 and "gender" in frame.columns


def test_na_and_other_pandas_missing_words_are_ids_not_missing_values(tmp_path):
    """JAFFE's subject `NA` (and Namibia's country code) are real values: no CSV of the user's is NA-guessed."""
    _image(tmp_path / "folders" / "happy" / "NA.HA1.jpg")
    _image(tmp_path / "folders" / "sad" / "KA.SA1.jpg")
    (tmp_path / "folders" / "manifest.csv").write_text(
        "file,label,subject,note\nhappy/NA.HA1.jpg,happy,NA,null\nsad/KA.SA1.jpg,sad,KA,\n")
    frame = discover(tmp_path / "folders")
    assert frame.set_index("subject")["label"].to_dict() == {"NA": "happy", "KA": "sad"}
    assert frame["note"].tolist() == ["null", ""]
    _image(tmp_path / "csv" / "a.jpg")
    (tmp_path / "csv" / "list.csv").write_text("path,label,subject\na.jpg,happy,N/A\n")
    assert discover(tmp_path / "csv" / "list.csv")["subject"].tolist() == ["N/A"]
    kaggle = tmp_path / "kaggle"
    _image(kaggle / "images" / "NA" / "Happy.jpg")
    _image(kaggle / "images" / "7" / "Sad.jpg")
    (kaggle / "emotions.csv").write_text("set_id,country\nNA,NA\n7,None\n")
    frame = discover(kaggle).set_index("subject")
    assert frame.loc["NA", "country"] == "NA" and frame.loc["7", "country"] == "None"
