"""Training judged on data it never saw: FER+ votes as soft labels, held-out splits, --test-on, calibration and
non-finite input, on real features extracted from ../shared."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from emotui.learn.calibration import expected_calibration_error, fit_temperature_and_bias
from emotui.cli import cli
from emotui.errors import DatasetError
from emotui.data.features import load_features
from emotui.labels import CLASSES
from emotui.learn.model_catalog import measured_on
from emotui.learn.training import TrainConfig, run_training, sample_weights

pytestmark = pytest.mark.slow


def test_votes_become_label_distributions_and_valid_rows_are_held_out(ferplus_subset_features):
    fs = load_features([ferplus_subset_features])
    table = pd.read_parquet(ferplus_subset_features).set_index("path")
    votes = table.loc[fs.paths, [f"v_{c}" for c in CLASSES]].to_numpy(float)
    np.testing.assert_allclose(fs.targets, votes / votes.sum(1, keepdims=True), atol=1e-6)
    assert (fs.targets.argmax(1) == fs.labels).mean() > 0.9  # the label is the plurality of the votes
    assert fs.held_out.sum() == (table.loc[fs.paths, "split"] == "valid").sum() > 0
    assert not fs.has_ref.any()  # no person ids: every image is its own person, judged without a reference
    assert fs.sources[0]["soft_labels"] and fs.sources[0]["held_out_images"] == 48


def test_bad_votes_are_one_line_errors(ferplus_subset_features, tmp_path):
    table = pd.read_parquet(ferplus_subset_features)
    table.loc[3, "v_happy"] = -2
    table.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DatasetError, match="negative, missing or all zero"):
        load_features([tmp_path / "bad.parquet"])


def test_datasets_are_balanced_not_drowned():
    labels = np.array([4] * 1000 + [4] * 10)
    subjects = np.array([f"a{i}" for i in range(1000)] + [f"b{i}" for i in range(10)])
    datasets = np.array(["big"] * 1000 + ["small"] * 10)
    weights, _ = sample_weights(labels, subjects, cap=6, balance=0.5, datasets=datasets, dataset_balance=0.0)
    assert weights[:1000].sum() == pytest.approx(weights[1000:].sum())
    weights, _ = sample_weights(labels, subjects, cap=6, balance=0.5, datasets=datasets, dataset_balance=0.5)
    assert weights[:1000].sum() / weights[1000:].sum() == pytest.approx(10.0)


def test_temperature_fit_recovers_an_overconfident_model():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, 4000)
    true_logits = rng.normal(size=(4000, 8)) + 2.0 * np.eye(8)[labels]
    y = np.array([rng.choice(8, p=np.exp(z) / np.exp(z).sum()) for z in true_logits])
    t, bias = fit_temperature_and_bias(true_logits * 3.0, y, bias=False)  # three times too confident
    assert t == pytest.approx(3.0, rel=0.1) and not bias.any()

    def probs(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    assert expected_calibration_error(probs(true_logits * 3.0 / t), y) < expected_calibration_error(probs(true_logits * 3.0), y) / 2


def test_train_on_one_dataset_test_on_another(ck_subset_features, ferplus_subset_features, tmp_path):
    out = tmp_path / "m"
    result = CliRunner().invoke(cli, ["train", str(ck_subset_features), "--test-on", str(ferplus_subset_features),
                                      "--out", str(out), "--epochs", "3", "--model-size", "tiny", "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output.strip().splitlines()[-1])
    fer = metrics["by_source"]["ferplus"]
    table = pd.read_parquet(ferplus_subset_features)
    assert fer["n"] == (table["status"] == "ok").sum() and fer["n_images"] == len(table) == 96
    assert fer["accuracy_all"] == pytest.approx(fer["accuracy"] * fer["n"] / 96)
    assert set(metrics["by_source"]) == {"ferplus"}  # ckplus48 only trained and validated
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["split"]["train"]["faces"] + config["training"]["split"]["validation"]["faces"] == \
        len(load_features([ck_subset_features]))
    # FER+ faces have no person ids: not counted as 96 persons of one face each
    assert config["training"]["split"]["test"]["subjects"] == 0
    assert config["training"]["split"]["test"]["no_person_id"] == fer["n"]
    assert measured_on(config).text() == f"test: {fer['n']} faces, no person ids"
    assert config["training"]["split"]["train"]["no_person_id"] == 0  # ckplus48 names its persons
    assert config["metrics"]["calibration"]["mode"] == "prior" and len(config["metrics"]["calibration"]["logit_bias"]) == 8
    assert config["metrics"]["calibration"]["temperature"] > 0
    on_training = CliRunner().invoke(cli, ["evaluate", "--model", str(out), str(ck_subset_features), "--json"])
    assert on_training.exit_code == 0
    assert "the model was trained on ck-subset" in on_training.stderr and "flatter" in on_training.stderr
    assert json.loads(on_training.stdout)["trained_on"]["same_file"] is True
    unseen = CliRunner().invoke(cli, ["evaluate", "--model", str(out), str(ferplus_subset_features), "--json"])
    assert unseen.exit_code == 0 and "flatter" not in unseen.stderr  # test-only data is not training data
    assert "trained_on" not in json.loads(unseen.stdout)
    same = CliRunner().invoke(cli, ["train", str(ck_subset_features), "--test-on", str(ck_subset_features),
                                    "--out", str(tmp_path / "x")])
    assert same.exit_code != 0 and "both training and --test-on" in same.output


def test_held_out_rows_are_tested_never_trained(ck_subset_features, ferplus_subset_features, tmp_path):
    result = run_training([ck_subset_features, ferplus_subset_features], tmp_path / "m", epochs=2,
                          model_size="tiny", test_fraction=0.0, config=TrainConfig(calibrate="prior"))
    fer = result.metrics["by_source"]["ferplus"]
    valid = pd.read_parquet(ferplus_subset_features).query("split == 'valid'")
    assert fer["n"] == (valid["status"] == "ok").sum() and fer["n_images"] == len(valid)
    assert result.metrics["n"] == fer["n"]  # the test part is FER+ valid and nothing else
    assert len(result.metrics["calibration"]["logit_bias"]) == 8


def test_non_finite_features_are_dropped_with_a_count_and_divergence_saves_nothing(ck_subset_features, tmp_path):
    table = pd.read_parquet(ck_subset_features)
    ok = table.index[table["status"] == "ok"]
    for i in ok[:4]:
        table.at[i, "blendshapes"] = np.full(52, np.nan, dtype=np.float32)
    table.to_parquet(tmp_path / "nan.parquet")
    warnings = []
    fs = load_features([tmp_path / "nan.parquet"], on_warning=warnings.append)
    assert len(fs) == len(ok) - 4 and np.isfinite(fs.blendshapes).all()
    assert warnings and "left out 4 faces with non-finite features" in warnings[0]
    result = CliRunner().invoke(cli, ["train", str(ck_subset_features), "--out", str(tmp_path / "d"),
                                      "--epochs", "1", "--lr", "1e30"])
    assert result.exit_code == 1 and "training diverged" in result.output
    assert not (tmp_path / "d" / "model.safetensors").exists()


def test_evaluate_with_a_balanced_prior_says_so_and_judges_otherwise(ferplus_subset_features):
    data = CliRunner().invoke(cli, ["evaluate", str(ferplus_subset_features), "--json"])
    balanced = CliRunner().invoke(cli, ["evaluate", str(ferplus_subset_features), "--json", "--prior", "balanced"])
    assert data.exit_code == balanced.exit_code == 0
    a, b = json.loads(data.stdout), json.loads(balanced.stdout)
    assert (a["prior"], b["prior"]) == ("data", "balanced") and a["n_faces"] == b["n_faces"]
    assert a["confusion_matrix"] != b["confusion_matrix"]  # fewer faces called neutral without the data's prior
    neutral = CLASSES.index("neutral")
    assert sum(r[neutral] for r in b["confusion_matrix"]) < sum(r[neutral] for r in a["confusion_matrix"])
