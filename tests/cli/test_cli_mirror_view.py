"""`emotui extract --mirror-view derive|detect|off`: what each stores, a bare --mirror-view, and the old
--no-mirror-view. Real MediaPipe on a shared image."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from emotui.cli import cli
from emotui.data.extraction import read_features
from emotui.data.landmarker import resolve_landmarker
from emotui.data.mirror import BLENDSHAPE_MIRROR, landmark_mirror_map, mirror_landmarks

from ..conftest import MEDIA


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny") / "tiny"
    (root / "Happy").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg"):
        shutil.copy(MEDIA / "single_face.jpg", root / "Happy" / name)
    return root


def _extract(root, out, *args: str):  # noqa: ANN001, ANN202
    result = CliRunner().invoke(cli, ["extract", str(root), "--out", str(out), "--workers", "1", *args])
    assert result.exit_code == 0, result.output
    frame = read_features(out)
    assert frame["status"].eq("ok").all()
    return frame


def _derived(frame):  # noqa: ANN001, ANN202 - each row's landmarks mirrored as `derive` does it
    twin = landmark_mirror_map(resolve_landmarker(download=False))
    return [mirror_landmarks(np.asarray(v).reshape(-1, 3), twin).ravel() for v in frame["landmarks"]]


def test_the_default_derives_each_view_from_the_one_detection(tiny, tmp_path):
    frame = _extract(tiny, tmp_path / "f.parquet")
    for view, expected in zip(frame["mirror_landmarks"], _derived(frame)):
        np.testing.assert_array_equal(view, expected)
    for view, blend in zip(frame["mirror_blendshapes"], frame["blendshapes"]):
        np.testing.assert_array_equal(view, np.asarray(blend)[BLENDSHAPE_MIRROR])


def test_a_bare_mirror_view_detects_the_mirrored_image(tiny, tmp_path):
    frame = _extract(tiny, tmp_path / "f.parquet", "--mirror-view")
    for view, derived in zip(frame["mirror_landmarks"], _derived(frame)):
        # a second reading: near the derived view (tests/data/test_mirror_derive.py), never the same numbers
        assert 0 < np.abs(np.asarray(view) - derived).max() < 0.05


@pytest.mark.parametrize("args", [["--mirror-view", "off"], ["--no-mirror-view"]])
def test_off_stores_no_views(tiny, tmp_path, args):
    frame = _extract(tiny, tmp_path / "f.parquet", *args)
    assert frame["mirror_landmarks"].isna().all() and frame["mirror_blendshapes"].isna().all()


@pytest.mark.parametrize("args,expected", [
    (["--no-mirror-view", "--mirror-view", "detect"], "--no-mirror-view and --mirror-view detect contradict"),
    (["--mirror-view", "both"], "'both' is not one of 'derive', 'detect', 'off'"),
])
def test_bad_mirror_view_options_are_one_line(tiny, tmp_path, args, expected):
    result = CliRunner().invoke(cli, ["extract", str(tiny), "--out", str(tmp_path / "f.parquet"), *args])
    assert result.exit_code == 2 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "f.parquet").exists()
