"""`emotui degrade DATASET --out DIR` and then `emotui extract DIR`: real faces rendered, extracted by MediaPipe
with their original's person and split; bad input in one line (a missing dataset, an unwritable folder,
--copies 0)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from emotui.cli import cli

from ..data.test_renderings import FACES, small_dataset
from .test_bad_input_classes import assert_one_line
from .test_read_only import in_read_only_folder, read_only_mounts


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_degrade_then_extract_gives_features_of_the_same_persons(tmp_path):
    import pandas as pd

    dataset, out = small_dataset(tmp_path / "faces"), tmp_path / "copies"
    result = run("degrade", dataset, "--out", out, "--copies", 2, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert f"{len(FACES)} images x 2 copies: {2 * len(FACES)} rendered now, 0 already there" in result.stdout
    assert f"emotui extract {out}" in result.stdout
    again = json.loads(run("degrade", dataset, "--out", out, "--copies", 2, "--seed", 1, "--json").stdout)
    assert (again["written"], again["resumed"]) == (0, 2 * len(FACES))

    features = tmp_path / "copies.parquet"
    result = run("extract", out, "--out", features, "--workers", 1)
    assert result.exit_code == 0, result.output
    df = pd.read_parquet(features, columns=["path", "status", "subject", "split", "source", "render_face_px"])
    assert len(df) == 2 * len(FACES)
    # MediaPipe finds most copies, from 48 px grey to a blurred colour JPEG; each keeps its original's person
    assert (df["status"] == "ok").sum() >= 0.7 * len(df)
    subjects = {file.rsplit("/", 1)[-1]: (subject, split) for _, file, subject, split in FACES}
    for row in df.itertuples():
        assert (row.subject, row.split) == subjects[row.source.rsplit("/", 1)[-1]]

    # loaded beside the originals' own features file, the copies are the same dataset and the same persons
    from emotui.data.features import load_features

    originals = tmp_path / "faces-0a1b2c3d.parquet"  # extract's default name: the dataset's, then a hash
    assert run("extract", dataset, "--out", originals, "--workers", 1).exit_code == 0
    fs = load_features([originals, features])
    assert set(fs.datasets) == {"faces-0a1b2c3d"} and [s["name"] for s in fs.sources] == ["faces-0a1b2c3d"] * 2
    assert set(fs.subjects) == {f"faces-0a1b2c3d/{subject}" for _, _, subject, _ in FACES}
    alone = load_features([features])  # without them, the copies go by their dataset's folder name
    assert set(alone.datasets) == {"faces"}


def test_without_out_the_copies_go_under_the_data_dir(tmp_path, _isolated_data):
    dataset = small_dataset(tmp_path / "faces")
    result = run("degrade", dataset, "--seed", 2, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["out"] == str(_isolated_data / "cache" / "renders" / "faces-s2")


@pytest.mark.parametrize("copies", ["0", "-1", "many"])
def test_copies_must_be_a_positive_count(tmp_path, copies):
    result = run("degrade", small_dataset(tmp_path / "faces"), "--out", tmp_path / "o", "--copies", copies)
    assert_one_line(result, "--copies")
    assert not (tmp_path / "o").exists()


def test_a_missing_dataset_is_one_line(tmp_path):
    assert_one_line(run("degrade", tmp_path / "nowhere", "--out", tmp_path / "o"), "dataset not found", code=1)


def test_an_out_that_is_a_file_or_under_a_file_is_one_line(tmp_path):
    dataset, file = small_dataset(tmp_path / "faces"), tmp_path / "notes.txt"
    file.write_text("x")
    assert_one_line(run("degrade", dataset, "--out", file), "not a folder")
    assert_one_line(run("degrade", dataset, "--out", file / "sub"), f"cannot write {file / 'sub'}", code=1)


@read_only_mounts
def test_a_read_only_out_names_the_folder(tmp_path):
    dataset, ro = small_dataset(tmp_path / "faces"), tmp_path / "ro"
    result = in_read_only_folder(ro, f"$EMOTUI degrade {dataset} --out {ro / 'copies'}")
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == f"emotui: error: cannot write {ro / 'copies'}: Read-only file system"
