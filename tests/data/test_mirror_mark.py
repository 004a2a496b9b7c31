"""The kind of mirror view a features file holds (emotui.mirror_view in its Parquet metadata): written by every
extraction, several kinds after a run resumed in another mode, inferred for files from before the mark (never
refused), and recorded per file by the model trained on it. Real extraction of shared images."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest

from emotui.data.extraction import run_extraction
from emotui.data.features import load_features
from emotui.data.features_file import MIRROR_VIEW
from emotui.learn.model_card import render_card

from ..conftest import MEDIA


def _dataset(root, *names: str):  # noqa: ANN001, ANN202
    (root / "Happy").mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(MEDIA / "single_face.jpg", root / "Happy" / name)
    return root


def _mark(path) -> bytes | None:  # noqa: ANN001
    return (pq.read_schema(path).metadata or {}).get(MIRROR_VIEW)


def _unmarked(path, out, drop_views: bool = False):  # noqa: ANN001, ANN202 - a copy as an older emotui wrote it
    table = pq.read_table(path)
    if drop_views:
        table = table.drop_columns(["mirror_landmarks", "mirror_blendshapes", "mirror_transform"])
    meta = {k: v for k, v in (table.schema.metadata or {}).items() if k != MIRROR_VIEW}
    pq.write_table(table.replace_schema_metadata(meta), out)
    return out


@pytest.mark.parametrize("mode", ["derive", "detect", "off"])
def test_each_extraction_marks_its_kind_and_training_data_reads_it(tmp_path, mode):
    out = tmp_path / "f.parquet"
    run_extraction(_dataset(tmp_path / "ds", "a.jpg"), out, workers=1, mirror_view=mode)
    assert _mark(out) == mode.encode()
    assert load_features([out]).sources[0]["mirror_view"] == mode


@pytest.mark.parametrize("mode,drop_views,expected", [
    ("detect", False, "detect"),  # an older emotui's only views were second detections
    ("off", False, "off"),  # --no-mirror-view
    ("off", True, "off"),  # before mirror views: no columns at all
])
def test_files_from_before_the_mark_read_as_what_they_are(tmp_path, mode, drop_views, expected):
    made = tmp_path / "made.parquet"
    run_extraction(_dataset(tmp_path / "ds", "a.jpg"), made, workers=1, mirror_view=mode)
    old = _unmarked(made, tmp_path / "old.parquet", drop_views)
    assert _mark(old) is None
    fs = load_features([old])  # read, not refused
    assert len(fs) == 1 and fs.sources[0]["mirror_view"] == expected


def test_a_resumed_run_in_another_mode_marks_both_and_an_old_file_gets_its_kind(tmp_path):
    root = _dataset(tmp_path / "ds", "a.jpg")
    out = tmp_path / "f.parquet"
    run_extraction(root, out, workers=1, mirror_view="detect")
    _unmarked(out, out)  # as an emotui before the mark left it
    again = run_extraction(root, out, workers=1)  # nothing to detect: the rows, and their kind, stay
    assert again.detected == 0 and _mark(out) == b"detect"
    _dataset(root, "b.jpg")
    more = run_extraction(root, out, workers=1)  # the new image gets the default's derived view
    assert more.detected == 1 and _mark(out) == b"derive+detect"
    assert load_features([out]).sources[0]["mirror_view"] == "derive+detect"


def test_a_model_records_the_kind_of_each_file_it_was_trained_on(reference_model, tmp_path):
    from emotui.learn.evaluation import evaluate

    config = json.loads((reference_model / "config.json").read_text())
    [source] = config["training"]["data"]
    assert source["mirror_view"] == "derive"  # tests/conftest.py extracts with the defaults
    assert "mirror views: derive" in render_card(config, "")
    made = tmp_path / "made.parquet"  # a file of another kind is evaluated, and says which it is
    run_extraction(_dataset(tmp_path / "ds", "a.jpg"), made, workers=1, mirror_view="detect")
    assert evaluate(_unmarked(made, tmp_path / "old.parquet"), reference_model)["mirror_view"] == "detect"
