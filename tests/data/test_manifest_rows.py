"""Manifest rows (issue 30 item 3): duplicates merged and counted, an image with two labels refused in one line
naming the files (or left out with drop_conflicts / `extract --drop-conflicts`), paths outside the manifest's
folder kept only when they exist, and every count in the extraction summary. Small temp datasets made from
../shared's real images; no dataset file is copied into the repo."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from emotui.cli import cli
from emotui.data.datasets import discover
from emotui.errors import DatasetError

from ..conftest import DATASETS, MEDIA

CK = DATASETS / "ckplus48"


def _ck_images(n: int) -> list[tuple[str, str]]:
    """(file, label) of the first n ckplus48 images, as its manifest lists them."""
    lines = (CK / "manifest.csv").read_text().splitlines()[1 : n + 1]
    return [(line.split(",")[0], line.split(",")[1]) for line in lines]


@pytest.fixture
def class_folders(tmp_path):
    """Class folders with a manifest.csv (file,label,subject), as ckplus48 is, of 4 real images."""
    root = tmp_path / "ck"
    rows = _ck_images(4)
    for file, _ in rows:
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CK / file, root / file)
    return root, rows


def _csv(path, rows: list[str], header: str = "path,label") -> None:  # noqa: ANN001
    path.write_text("\n".join([header, *rows]) + "\n")


def test_duplicate_rows_with_the_same_label_are_merged_and_counted(tmp_path):
    shutil.copy(MEDIA / "single_face.jpg", tmp_path / "a.jpg")
    shutil.copy(MEDIA / "multi_face.jpg", tmp_path / "b.jpg")
    _csv(tmp_path / "m.csv", ["a.jpg,happy", "./a.jpg,Happiness", "a.jpg,happy", "b.jpg,sad"])
    frame = discover(tmp_path / "m.csv")
    assert frame["path"].tolist() == [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")]
    counts = frame.attrs["manifest"]
    assert (counts["rows"], counts["merged"], counts["conflicts"], counts["left_out"]) == (4, 2, 0, 0)


def test_an_image_with_two_labels_is_refused_in_one_line_naming_it(tmp_path):
    shutil.copy(MEDIA / "single_face.jpg", tmp_path / "a.png")
    (tmp_path / "happy").mkdir()
    shutil.copy(MEDIA / "single_face.jpg", tmp_path / "happy" / "a.png")
    _csv(tmp_path / "m.csv", ["happy/a.png,happy", "a.png,fear", "happy/a.png,sad"])
    with pytest.raises(DatasetError) as caught:
        discover(tmp_path / "m.csv")
    message = str(caught.value)
    assert "\n" not in message and "happy/a.png (happy, sad)" in message and "--drop-conflicts" in message
    frame = discover(tmp_path / "m.csv", drop_conflicts=True)
    assert frame["path"].tolist() == [str(tmp_path / "a.png")]
    assert frame.attrs["manifest"]["conflicts"] == 1 and frame.attrs["manifest"]["left_out"] == 2


def test_a_class_folder_manifest_merges_repeats_and_refuses_two_labels(class_folders):
    root, rows = class_folders
    lines = [f"{file},{label},S1" for file, label in rows]
    _csv(root / "manifest.csv", [*lines, lines[0]], header="file,label,subject")
    frame = discover(root)
    assert len(frame) == 4 and frame.attrs["manifest"]["merged"] == 1
    _csv(root / "manifest.csv", [*lines, f"{rows[0][0]},happy,S1"], header="file,label,subject")
    with pytest.raises(DatasetError, match=rows[0][0]):
        discover(root)
    frame = discover(root, drop_conflicts=True)
    assert len(frame) == 3 and str(root / rows[0][0]) not in frame["path"].tolist()


def test_paths_outside_the_manifests_folder_are_kept_only_if_they_exist(tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    shutil.copy(MEDIA / "single_face.jpg", folder / "in.jpg")
    outside = MEDIA / "multi_face.jpg"
    _csv(folder / "m.csv", ["in.jpg,happy", f"{outside},sad", "../nowhere/x.jpg,fear", "missing.jpg,anger"])
    frame = discover(folder / "m.csv")
    # inside and missing: kept (recorded unreadable by the extraction, redone when it appears); outside: only if there
    assert frame["path"].tolist() == [str(folder / "in.jpg"), str(outside), str(folder / "missing.jpg")]
    counts = frame.attrs["manifest"]
    assert (counts["outside"], counts["refused"]) == (1, 1)
    assert counts["outside_paths"] == [str(outside)] and counts["refused_paths"] == [str(tmp_path / "nowhere" / "x.jpg")]


def test_the_extract_summary_counts_merged_left_out_refused_and_outside(tmp_path):
    shutil.copy(MEDIA / "single_face.jpg", tmp_path / "a.jpg")
    shutil.copy(MEDIA / "single_face.jpg", tmp_path / "c.jpg")
    _csv(tmp_path / "m.csv", ["a.jpg,happy", "a.jpg,happy", "c.jpg,happy", "c.jpg,sad",
                              f"{MEDIA / 'multi_face.jpg'},fear", "../gone/z.jpg,sad"])
    out = tmp_path / "f.parquet"
    refused = CliRunner().invoke(cli, ["extract", str(tmp_path / "m.csv"), "--workers", "1", "--out", str(out)])
    assert refused.exit_code == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert "c.jpg (happy, sad)" in refused.stderr and not out.exists()
    done = CliRunner().invoke(cli, ["extract", str(tmp_path / "m.csv"), "--workers", "1", "--out", str(out),
                                    "--drop-conflicts", "--json"])
    assert done.exit_code == 0, done.output
    manifest = json.loads(done.stdout)["manifest"]
    assert {k: manifest[k] for k in ("rows", "merged", "conflicts", "left_out", "refused", "outside")} == {
        "rows": 6, "merged": 1, "conflicts": 1, "left_out": 2, "refused": 1, "outside": 1}
    table = CliRunner().invoke(cli, ["extract", str(tmp_path / "m.csv"), "--workers", "1", "--out", str(out),
                                     "--drop-conflicts"])
    assert "manifest: 6 rows, 1 merged, 2 left out (1 images with two labels), 1 refused" in table.stdout
    assert "merged 1 duplicate" in table.stderr and "refused 1 manifest row" in table.stderr


def test_an_empty_dataset_path_is_refused_not_read_as_the_current_folder():
    with pytest.raises(DatasetError, match="empty"):
        discover("")
