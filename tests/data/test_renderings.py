"""Renderings of a dataset (emotui.data.renderings) on real faces: the copies differ in size and colour as drawn,
their manifest is read by the dataset reader with each original's label, person and split, a seed draws the same
copies again, a second run renders only what is missing, and bad input is a one-line error."""

from __future__ import annotations

import csv
import os

import cv2
import numpy as np
import pytest

from emotui.data.datasets import discover
from emotui.data.images import decode_image
from emotui.data.renderings import (MANIFEST, MAX_SIDE, MIN_SIDE, RenderParams, default_renderings_dir, draw_params,
                                    render, run_renderings)
from emotui.errors import DatasetError

from ..conftest import DATASETS

# (file in its dataset, subject, split): colour and grey web faces of several sizes, and 48 px grey studio faces
FACES = [
    ("muxspace-fe", "anger/SharmilaTagore_anger_SharmilaTagore-45.jpg", "SharmilaTagore", "train"),
    ("muxspace-fe", "disgust/Dwarakish_disgust_Dwarakish-109.jpg", "Dwarakish", "train"),
    ("muxspace-fe", "anger/Al-Gore_anger_Al-Gore-0002.jpg", "Al_Gore", "valid"),
    ("ckplus48", "anger/S010_anger_004-00000017.png", "S010", "train"),
    ("ckplus48", "happy/S083_happy_003-00000019.png", "S083", "valid"),
]


def small_dataset(folder):
    """Class folders of symlinks to real images, with a manifest giving persons and splits."""
    folder.mkdir()
    with open(folder / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "label", "subject", "split"])
        for dataset, file, subject, split in FACES:
            (folder / file).parent.mkdir(exist_ok=True)
            (folder / file).symlink_to(DATASETS / dataset / file)
            writer.writerow([file, file.split("/")[0], subject, split])
    return folder


@pytest.fixture
def dataset(tmp_path):
    return small_dataset(tmp_path / "faces")


def manifest_rows(out):
    with open(out / MANIFEST, newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_copies_differ_in_size_and_colour_as_their_parameters_say(dataset, tmp_path):
    summary = run_renderings(dataset, tmp_path / "out", copies=4, seed=3)
    assert (summary.written, summary.resumed, summary.failed) == (20, 0, 0)
    rows = manifest_rows(tmp_path / "out")
    sizes, greys = set(), set()
    for row in rows:
        pixels = cv2.imread(str(tmp_path / "out" / row["path"]), cv2.IMREAD_UNCHANGED)
        source, width, height = decode_image(row["source"])
        assert (pixels.shape[1], pixels.shape[0]) == (int(row["render_width"]), int(row["render_height"]))
        face_px = int(row["render_face_px"])
        assert MIN_SIDE <= face_px <= MAX_SIDE and 30 <= int(row["render_jpeg"]) <= 95
        long_side = max(pixels.shape[:2])
        # brought to the face's resolution, or shown back at its source's size after being brought down
        assert long_side == face_px or (face_px < max(width, height) and long_side == max(width, height))
        assert (pixels.ndim == 2) == (row["render_grey"] == "1")
        if pixels.ndim == 3 and "SharmilaTagore" in row["source"]:  # a colour face stays in colour
            assert np.abs(pixels.astype(int) - pixels.mean(2, keepdims=True)).mean() > 3
        sizes.add(long_side)
        greys.add(row["render_grey"])
    assert len(sizes) >= 10 and greys == {"0", "1"}
    ck = [r for r in rows if os.path.basename(r["source"]).startswith("S0")]  # 48 px studio faces are blown up, not only kept
    assert max(int(r["render_width"]) for r in ck) > 100


def test_each_parameter_changes_the_pixels_it_names():
    rgb, _, _ = decode_image(DATASETS / "muxspace-fe" / FACES[0][1])
    plain = RenderParams(face_px=128, back_up=False, grey=False, blur=0.0, jpeg=95, brightness=0.0, contrast=1.0)
    base = render(rgb, plain)
    assert max(base.shape[:2]) == 128 and base.ndim == 3

    def sharpness(pixels):
        return cv2.Laplacian(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()

    assert sharpness(render(rgb, plain.__class__(**{**plain.__dict__, "blur": 1.5}))) < 0.5 * sharpness(base)
    brighter = render(rgb, plain.__class__(**{**plain.__dict__, "brightness": 30.0}))
    assert 20 < brighter.mean() - base.mean() <= 30
    flatter = render(rgb, plain.__class__(**{**plain.__dict__, "contrast": 0.7}))
    assert flatter.std() < 0.8 * base.std()
    assert render(rgb, plain.__class__(**{**plain.__dict__, "grey": True})).ndim == 2
    back = render(rgb, plain.__class__(**{**plain.__dict__, "face_px": 48, "back_up": True}))
    assert back.shape[:2] == rgb.shape[:2] and sharpness(back) < sharpness(cv2.resize(rgb, back.shape[1::-1]))


def test_the_manifest_is_a_dataset_with_each_originals_label_person_and_split(dataset, tmp_path):
    run_renderings(dataset, tmp_path / "out", copies=2, seed=0)
    frame = discover(tmp_path / "out")
    original = discover(dataset).set_index("path")
    assert frame.attrs["layout"] == "manifest" and len(frame) == 2 * len(FACES)
    for row in frame.to_dict("records"):
        source = original.loc[row["source"]]
        assert (row["label"], row["subject"], row["split"]) == (source["label"], source["subject"], source["split"])
        assert os.path.dirname(row["path"]) == str(tmp_path / "out")


def test_a_seed_draws_the_same_copies_and_another_seed_others(dataset, tmp_path):
    for name in ("a", "b"):
        run_renderings(dataset, tmp_path / name, copies=2, seed=7)
    run_renderings(dataset, tmp_path / "c", copies=2, seed=8)
    assert (tmp_path / "a" / MANIFEST).read_text() == (tmp_path / "b" / MANIFEST).read_text()
    for row in manifest_rows(tmp_path / "a"):
        assert (tmp_path / "a" / row["path"]).read_bytes() == (tmp_path / "b" / row["path"]).read_bytes()
    params = [{k: v for k, v in r.items() if k.startswith("render_")} for r in manifest_rows(tmp_path / "a")]
    assert params != [{k: v for k, v in r.items() if k.startswith("render_")} for r in manifest_rows(tmp_path / "c")]
    # the draw depends on the image and the copy, not on the order of work
    assert draw_params(7, "happy/x.png", 1) == draw_params(7, "happy/x.png", 1) != draw_params(7, "happy/x.png", 0)


def test_a_second_run_renders_only_the_missing_copies(dataset, tmp_path):
    out = tmp_path / "out"
    run_renderings(dataset, out, copies=1, seed=0)
    first = {r["path"]: (out / r["path"]).stat().st_mtime_ns for r in manifest_rows(out)}
    gone = sorted(first)[0]
    (out / gone).unlink()
    summary = run_renderings(dataset, out, copies=2, seed=0)
    assert (summary.written, summary.resumed) == (len(FACES) + 1, len(FACES) - 1)
    assert len(manifest_rows(out)) == 2 * len(FACES)
    assert all((out / p).stat().st_mtime_ns == t for p, t in first.items() if p != gone)
    with pytest.raises(DatasetError, match="seed 0"):  # one folder never mixes two seeds' copies
        run_renderings(dataset, out, copies=1, seed=1)


def test_an_unreadable_image_is_left_out_and_counted(dataset, tmp_path):
    (dataset / "happy" / "broken.jpg").write_bytes(b"not a jpeg at all")
    events = []
    summary = run_renderings(dataset, tmp_path / "out", copies=2, on_event=events.append)
    assert summary.failed == 1 and summary.written == 2 * len(FACES)
    assert not any("broken" in r["source"] for r in manifest_rows(tmp_path / "out"))
    assert any(getattr(e, "status", None) == "unreadable" and "broken.jpg" in e.path for e in events)


@pytest.mark.parametrize("case", ["missing", "inside", "foreign"])
def test_bad_places_are_refused_in_one_line(dataset, tmp_path, case):
    target, out = dataset, tmp_path / "out"
    if case == "missing":
        target = tmp_path / "nowhere"
    elif case == "inside":
        out = dataset / "copies"
    else:
        out.mkdir()
        (out / "notes.txt").write_text("someone's files")
    with pytest.raises(DatasetError) as err:
        run_renderings(target, out)
    assert "\n" not in str(err.value)
    assert {"missing": "dataset not found", "inside": "inside the dataset", "foreign": "not empty"}[case] in str(err.value)
    assert case != "inside" or not out.exists()


def test_the_default_folder_is_under_the_data_dir_never_the_checkout(_isolated_data):
    path = default_renderings_dir(DATASETS / "ckplus48", 4)
    assert path == _isolated_data / "cache" / "renders" / "ckplus48-s4"
