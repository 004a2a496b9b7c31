"""One pixel budget for every image reader: a file whose header claims a huge size is refused in one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from emotui.cli import cli
from emotui.data.detection import decode_for_detection
from emotui.errors import ImageReadError
from emotui.data.extraction import read_features
from emotui.data.images import MAX_DECODE_PIXELS, ImageTooLargeError, decode_image, image_size

from ..conftest import MEDIA
from ..hostile_files import png_claiming


@pytest.fixture
def bomb(tmp_path):
    return png_claiming(tmp_path / "bomb.png", 60000, 60000)


def test_the_header_size_is_read_without_decoding(bomb, tmp_path):
    assert bomb.stat().st_size < 4096
    assert image_size(bomb) == ("png", 60000, 60000)
    assert image_size(MEDIA / "single_face.jpg") == ("jpeg", 572, 562)
    assert image_size(MEDIA / "Image_with_alpha.png")[0] == "png"
    with pytest.raises(ImageTooLargeError, match="60000x60000"):
        decode_image(bomb)
    # Below OpenCV's own limit (2^30 pixels) OpenCV would try: the budget refuses first.
    mid = png_claiming(tmp_path / "mid.png", 20000, 20000)
    assert 20000 * 20000 > MAX_DECODE_PIXELS
    with pytest.raises(ImageTooLargeError, match="too large"):
        decode_for_detection(mid)


def test_predict_refuses_it_in_one_line_and_predicts_the_rest(bomb):
    proc = subprocess.run([sys.executable, "-m", "emotui", "predict", str(bomb), str(MEDIA / "single_face.jpg")],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"emotui: error: image too large: {bomb} claims 60000x60000 pixels "
        f"(at most {MAX_DECODE_PIXELS // 1_000_000} megapixels are decoded)"]
    assert proc.stdout.startswith(f"{MEDIA / 'single_face.jpg'} face 0: ")


def test_extract_records_it_as_unreadable_with_the_reason(bomb, tmp_path):
    root = tmp_path / "ds"
    (root / "happy").mkdir(parents=True)
    shutil.move(bomb, root / "happy" / "bomb.png")
    shutil.copy(MEDIA / "single_face.jpg", root / "happy" / "face.jpg")
    out = tmp_path / "f.parquet"
    result = CliRunner().invoke(cli, ["extract", str(root), "--out", str(out), "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r.path.rsplit("/", 1)[1]: r for r in read_features(out).itertuples()}
    assert rows["face.jpg"].status == "ok"
    assert rows["bomb.png"].status == "unreadable" and "image too large" in rows["bomb.png"].error
    assert json.loads(result.stdout)["by_class"] == {"happy": {"ok": 1, "unreadable": 1}}


def test_a_watched_folder_skips_it_and_goes_on(bomb, tmp_path):
    folder = tmp_path / "watch"
    folder.mkdir()
    shutil.move(bomb, folder / "a_bomb.png")
    shutil.copy(MEDIA / "single_face.jpg", folder / "b_face.jpg")
    result = CliRunner().invoke(cli, ["watch", "--source", str(folder), "--interval", "0", "--fast", "--headless",
                                      "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["frame"] for r in lines if r.get("label")] == [1]
    assert "Traceback" not in result.stderr and "image too large" in result.stderr


def test_opencv_refusals_become_one_line_errors(tmp_path):
    """Any cv2.error while decoding (here a truncated PNG inside the budget) is one line, not C++ context."""
    small = png_claiming(tmp_path / "short.png", 3000, 3000)
    with pytest.raises(ImageReadError) as info:
        decode_image(small)
    assert "\n" not in str(info.value)
