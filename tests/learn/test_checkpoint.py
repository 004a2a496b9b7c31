"""Model directories: exact reloads, and a clear error for each way one can be broken."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emotui.learn.checkpoint import load_checkpoint, save_checkpoint
from emotui.config import default_model_dir
from emotui.learn.recipes import DEFAULT_MODEL_SIZE
from emotui.learn.model_card import CARD, NOTES, render_card
from emotui.errors import CheckpointError
from emotui.data.features import load_features
from emotui.learn.model import Architecture, ExpressionTransformer, count_parameters
from emotui.learn.predictor import Predictor

from ..conftest import MEDIA


@pytest.fixture()
def model_copy(tmp_path):
    dest = tmp_path / "model"
    shutil.copytree(default_model_dir(), dest)
    return dest


def test_the_shipped_model_fits_the_budget():
    model, config, checksum = load_checkpoint(default_model_dir())
    # The appearance's 900 HOG values cost ~0.43M weights in the whole-face MLP's first layer; the budget is
    # what the monitor's 2 ms per face allows (bench_monitor.py measures it) in a download under 6 MB.
    assert count_parameters(model) <= 1_500_000 and config["parameters"] == count_parameters(model)
    assert sum(p.stat().st_size for p in default_model_dir().iterdir()) < 6_000_000
    assert config["weights_sha256"] == checksum and config["complete"]
    assert {"classes", "feature_spec", "normalisation", "architecture", "training", "metrics", "emotui_version",
            "created"} <= set(config)
    assert all(src["sha256"] for src in config["training"]["data"])
    # the product is a landmark transformer: the shipped default is one, trained with the default size's recipe
    assert config["architecture"]["depth"] >= 2 and config["training"]["config"]["model_size"] == DEFAULT_MODEL_SIZE


def test_the_model_card_describes_the_shipped_weights():
    _, config, checksum = load_checkpoint(default_model_dir())
    card = (default_model_dir() / CARD).read_text()
    assert card == render_card(config, (default_model_dir() / NOTES).read_text())  # regenerated with the weights
    test = config["metrics"]["test"]
    assert f"sha256 `{checksum[:16]}" in card and f"accuracy **{test['accuracy']:.3f}**" in card
    assert "research and evaluation only" in card  # the data's terms, from the hand-written notes
    assert config["training"]["config"]["views"] and "the face meshed again in the mirrored image" in card
    # the renderings it trained on share their dataset's name: the card names each file
    names = [s["name"] for s in config["training"]["data"]]
    for source in config["training"]["data"]:
        listed = f"`{source['name']}` (file `{Path(source['path']).name}`)"
        assert (listed in card) == (names.count(source["name"]) > 1)


@pytest.mark.parametrize("wide", [0, 32])  # with and without the whole-face MLP beside the transformer
def test_save_and_reload_give_identical_predictions(tmp_path, ck_subset_features, wide):
    fs = load_features([ck_subset_features])
    from emotui.data.features import N_BLENDSHAPES, blendshape_mirror_map, mirror_map

    width = fs.blendshapes.shape[1]  # blendshapes and appearance
    model = ExpressionTransformer(Architecture.of_size("tiny", wide=wide, appearance=width - N_BLENDSHAPES))
    mean = fs.points.mean(0)
    model.set_geometry(mean, fs.points.std(0) + 0.01, mirror_map(mean), blendshape_mirror_map(width))
    model.eval()
    save_checkpoint(model, tmp_path / "m", {"complete": True, "metrics": {}})
    first = Predictor.load(tmp_path / "m").predict_arrays(fs.points, fs.blendshapes)
    second = Predictor.load(tmp_path / "m").predict_arrays(fs.points, fs.blendshapes)
    assert np.array_equal(first, second)
    import torch

    with torch.inference_mode():
        direct = model.probabilities(torch.from_numpy(fs.points), torch.from_numpy(fs.blendshapes)).numpy()
    assert np.allclose(first, direct, atol=1e-5)  # the reloaded weights compute what the saved ones did


def _edit_config(model_dir, **changes):
    path = model_dir / "config.json"
    config = json.loads(path.read_text())
    for key, value in changes.items():
        config[key] = value
    path.write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("no_dir", "model directory not found"),
        ("no_config", "config.json is missing"),
        ("bad_json", "not valid JSON"),
        ("no_weights", "model.safetensors is missing"),
        ("truncated", "corrupt or was replaced"),
        ("garbage_unchecked", "not a readable safetensors file"),
        ("spec", "feature spec version 99"),
        ("classes", "predicts classes"),
        ("shape", "does not match its architecture"),
    ],
)
def test_broken_models_give_a_clear_error(model_copy, breakage, message):
    weights = model_copy / "model.safetensors"
    if breakage == "no_dir":
        shutil.rmtree(model_copy)
    elif breakage == "no_config":
        (model_copy / "config.json").unlink()
    elif breakage == "bad_json":
        (model_copy / "config.json").write_text("{not json")
    elif breakage == "no_weights":
        weights.unlink()
    elif breakage == "truncated":
        weights.write_bytes(weights.read_bytes()[:5000])
    elif breakage == "garbage_unchecked":
        weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
        _edit_config(model_copy, weights_sha256=None)
    elif breakage == "spec":
        _edit_config(model_copy, feature_spec={"version": 99})
    elif breakage == "classes":
        _edit_config(model_copy, classes=["happy", "sad"])
    elif breakage == "shape":
        arch = json.loads((model_copy / "config.json").read_text())["architecture"]
        key = "dim" if arch["depth"] else "wide"  # a width the weights use
        _edit_config(model_copy, architecture={**arch, key: arch[key] * 2})
    with pytest.raises(CheckpointError, match=message):
        Predictor.load(model_copy)


def test_cli_reports_a_broken_model_on_one_line(model_copy):
    (model_copy / "model.safetensors").write_bytes(b"junk")
    proc = subprocess.run(
        [sys.executable, "-m", "emotui", "predict", "--model", str(model_copy), str(MEDIA / "single_face.jpg")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("emotui: error: ") and "corrupt" in lines[0]
