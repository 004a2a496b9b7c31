"""A features file says whether its extraction finished; every reader says so when it did not."""

from __future__ import annotations

import json
import shutil
import threading

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from emotui.cli import cli
from emotui.errors import DatasetError
from emotui.events import Progress
from emotui.data.extraction import read_features, run_extraction
from emotui.data.features import load_features, read_feature_table

from ..conftest import DATASETS


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """12 ckplus48 images, stopped after the first batch of 4 (what Ctrl-C does), and the same run finished."""
    base = tmp_path_factory.mktemp("stopped")
    root = base / "ck"
    (root / "happy").mkdir(parents=True)
    for src in sorted((DATASETS / "ckplus48" / "happy").iterdir())[:12]:
        shutil.copy(src, root / "happy" / src.name)
    stop = threading.Event()

    def stop_after_four(event):
        if isinstance(event, Progress) and event.done >= 4:
            stop.set()

    out = base / "ck.parquet"
    assert run_extraction(root, out, workers=1, chunk_size=4, on_event=stop_after_four, stop=stop).cancelled
    partial = base / "partial.parquet"
    shutil.copy(out, partial)
    assert not run_extraction(root, out, workers=1, chunk_size=4).cancelled
    return root, partial, out


def test_a_stopped_extraction_is_marked_incomplete_and_a_finished_one_complete(stopped):
    _, partial, full = stopped
    meta = pq.read_schema(partial).metadata
    assert (meta[b"emotui.complete"], meta[b"emotui.images_expected"], meta[b"emotui.images_done"]) == (
        b"false", b"12", b"4")
    meta = pq.read_schema(full).metadata
    assert (meta[b"emotui.complete"], meta[b"emotui.images_done"]) == (b"true", b"12")


def test_every_reader_warns_about_an_incomplete_file_with_the_counts(stopped, capfd):
    root, partial, full = stopped
    for read in (read_feature_table, read_features, lambda p: load_features([p])):
        read(partial)
        err = capfd.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"emotui: warning: features file {partial} is incomplete: ")
        assert f"4 of 12 images extracted; run `emotui extract {root} --out {partial}` again to finish" in err
        read(full)
        assert capfd.readouterr().err == ""


def test_evaluate_on_an_incomplete_file_says_so(stopped):
    _, partial, _ = stopped
    result = CliRunner().invoke(cli, ["evaluate", str(partial), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_images"] == 4
    assert "is incomplete: 4 of 12 images extracted" in result.stderr


def test_a_file_whose_extraction_never_merged_is_named_unfinished(stopped, tmp_path):
    root, partial, _ = stopped
    out = tmp_path / "killed.parquet"
    parts = tmp_path / "killed.parquet.parts"
    parts.mkdir()
    shutil.copy(partial, parts / "part-000000.parquet")  # what kill -9 leaves: parts, no merged file
    for read in (read_feature_table, read_features, lambda p: load_features([p])):
        with pytest.raises(DatasetError) as caught:
            read(out)
        assert str(caught.value) == (f"{out} is an unfinished extraction (only killed.parquet.parts/ exists): "
                                     f"run `emotui extract {root} --out {out}` again to finish it")
    summary = run_extraction(root, out, workers=1, chunk_size=4)
    assert (summary.resumed, summary.detected) == (4, 8) and len(read_feature_table(out)) == 12
    with pytest.raises(DatasetError, match="features file not found"):
        read_feature_table(tmp_path / "none.parquet")
