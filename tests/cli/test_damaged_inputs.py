"""Files that are damaged or foreign where emotui expects its own: one line naming the file, never a traceback."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from emotui.cli import cli
from emotui.data.datasets import discover
from emotui.labels import CLASSES

from ..conftest import DATASETS, MEDIA, REPO, write_features

KAGGLE = DATASETS / "kaggle-layout-sample"


def _one_error_line(result, *needles: str) -> str:
    assert result.exit_code not in (0, None) and "Traceback" not in result.output, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("emotui: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def test_emotions_csv_listing_a_set_twice_keeps_its_first_row(tmp_path):
    root = tmp_path / "kaggle"
    for set_id in ("0", "1"):
        (root / "images" / set_id).mkdir(parents=True)
        shutil.copy(MEDIA / "single_face.jpg", root / "images" / set_id / "Happy.jpg")
    (root / "emotions.csv").write_text("set_id,gender,age\n0,female,30\n1,male,41\n0,male,99\n")
    frame = discover(root)
    assert frame.attrs["layout"] == "kaggle" and len(frame) == 2
    by_set = frame.set_index("set_id")
    assert by_set.loc["0", "gender"] == "female" and by_set.loc["1", "gender"] == "male"


def _face_row(path, label, subject, landmarks=478 * 3):
    return {"path": path, "label": label, "subject": subject, "status": "ok", "width": 100, "height": 100,
            "n_faces": 1, "landmarks": np.random.default_rng(0).random(landmarks).astype(np.float32).tolist(),
            "blendshapes": [0.0] * 52, "transform": np.eye(4, dtype=np.float32).ravel().tolist(),
            "bbox": [0.0, 0.0, 1.0, 1.0]}


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_features_with_short_landmark_arrays_are_one_line_naming_the_file(tmp_path, command):
    rows = [_face_row(f"/x/{i}.jpg", "happy" if i % 2 else "sad", f"p{i}", 478 * 3 if i else 30) for i in range(8)]
    features = write_features(rows, tmp_path / "short.parquet")
    args = ["train", str(features), "--out", str(tmp_path / "m")] if command == "train" else ["evaluate", str(features)]
    result = CliRunner().invoke(cli, args)
    _one_error_line(result, str(features), "landmarks hold 30 values instead of 1434")


def test_a_corrupt_resume_state_asks_to_start_again(tmp_path):
    rows = [_face_row(f"/x/{i}.jpg", CLASSES[i % len(CLASSES)], f"p{i % 6}") for i in range(24)]
    features = write_features(rows, tmp_path / "f.parquet")
    resume = tmp_path / "m" / "resume"
    resume.mkdir(parents=True)
    args = ["train", str(features), "--out", str(tmp_path / "m"), "--epochs", "1", "--model-size", "tiny",
            "--resume"]
    (resume / "state.json").write_text('{"epoch": 3, "ste')  # torn mid-write
    _one_error_line(CliRunner().invoke(cli, args), f"resume state {resume} is corrupt",
                    "start again without --resume or delete it")
    (resume / "state.json").write_text(json.dumps({"epoch": 1, "step": 4}))
    (resume / "state.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header")
    _one_error_line(CliRunner().invoke(cli, args), "is corrupt (")


def test_ctrl_c_in_the_first_epoch_exits_130_without_a_model(tmp_path, monkeypatch):
    from emotui.learn import training

    rows = [_face_row(f"/x/{i}.jpg", CLASSES[i % len(CLASSES)], f"p{i % 6}") for i in range(24)]
    features = write_features(rows, tmp_path / "f.parquet")

    def interrupted(self, epoch):  # the user's Ctrl-C lands while the first epoch runs
        raise KeyboardInterrupt

    monkeypatch.setattr(training._Run, "_train_epoch", interrupted)
    out = tmp_path / "m"
    result = CliRunner().invoke(cli, ["train", str(features), "--out", str(out), "--model-size", "tiny"])
    assert result.exit_code == 130 and "Traceback" not in result.output, result.output
    assert result.stderr.strip() == f"interrupted before the first epoch ended: no model was saved in {out}"
    assert not (out / "model.safetensors").exists()


@pytest.mark.parametrize("content", ["foreign", "garbage"])
def test_a_foreign_parquet_as_extract_out_is_one_line(tmp_path, content):
    out = tmp_path / "other.parquet"
    if content == "foreign":
        pd.DataFrame({"a": [1, 2]}).to_parquet(out)
    else:
        out.write_text("not parquet at all\n")
    before = out.read_bytes()
    result = CliRunner().invoke(cli, ["extract", str(KAGGLE), "--out", str(out), "--workers", "1"])
    _one_error_line(result, f"{out} exists and is not an emotui features file", "choose another --out")
    assert out.read_bytes() == before


def test_a_job_that_fails_before_it_begins_prints_exactly_one_line(tmp_path):
    """No blank lines left by a progress bar that never drew (a real process, stderr not a terminal)."""
    import subprocess
    import sys

    out = tmp_path / "empty.parquet"
    out.write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "emotui", "extract", str(KAGGLE), "--out", str(out), "--workers",
                           "1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr == (f"emotui: error: {out} exists and is not an emotui features file (Parquet file size is "
                           "0 bytes); choose another --out\n")


def test_extract_refuses_more_workers_than_the_machine_can_hold(tmp_path):
    result = CliRunner().invoke(cli, ["extract", str(KAGGLE), "--out", str(tmp_path / "f.parquet"), "--workers",
                                      "100000"])
    _one_error_line(result, "--workers 100000 is more than", "per core")
    assert not (tmp_path / "f.parquet").exists()


# (what is done to a copy of the shipped model's config.json, what the one line says)
DAMAGED_CONFIGS = [
    (lambda config: {**config, "feature_spec": None}, "config.json is damaged: feature_spec is not an object"),
    (lambda config: {**config, "architecture": {**config["architecture"], "wide": -3}},
     "config.json is damaged: architecture.wide is -3"),
    (lambda config: {**config, "training": {"data": [1]}}, "config.json is damaged: training.data holds"),
    # unchecked weights whose tensors are not those the architecture makes
    (lambda config: {**config, "weights_sha256": None, "architecture": {**config["architecture"], "dim": 32}},
     "model.safetensors does not match its architecture"),
]


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize(("damage", "message"), DAMAGED_CONFIGS)
def test_a_damaged_model_config_is_one_line_for_predict_and_evaluate(tmp_path, command, damage, message):
    model = tmp_path / "model"
    shutil.copytree(REPO / "models" / "default", model, ignore=shutil.ignore_patterns("*.md"))
    config = model / "config.json"
    config.write_text(json.dumps(damage(json.loads(config.read_text()))))
    if command == "predict":
        args = ["predict", str(MEDIA / "single_face.jpg")]
    else:
        rows = [_face_row(f"/x/{i}.jpg", CLASSES[i % len(CLASSES)], f"p{i}") for i in range(8)]
        args = ["evaluate", str(write_features(rows, tmp_path / "f.parquet"))]
    _one_error_line(CliRunner().invoke(cli, [*args, "--model", str(model)]), str(model), message)
