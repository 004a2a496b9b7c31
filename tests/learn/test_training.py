"""Training for real on 30 ckplus48 subjects: it learns, stops, resumes, cross-validates; splits never share a person."""

from __future__ import annotations

import csv
import json
import threading

import numpy as np
import pytest
from click.testing import CliRunner

from emotui.cli import cli
from emotui.errors import DatasetError
from emotui.events import EpochMetrics, Finished
from emotui.data.features import FEATURE_SPEC_VERSION, load_features
from emotui.labels import CLASSES
from emotui.learn.predictor import Predictor
from emotui.learn.splits import subject_folds, subject_split
from emotui.learn.training import identity_offsets, run_training, sample_weights

from ..conftest import DATASETS
from ..hostile_files import features_where

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def manifest():
    with open(DATASETS / "muxspace-fe" / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return np.array([CLASSES.index(r["label"]) for r in rows]), np.array([r["subject"] for r in rows])


def test_splits_are_subject_disjoint_and_stratified(manifest):
    labels, subjects = manifest
    train, val, test = subject_split(labels, subjects, seed=3)
    assert len(train) + len(val) + len(test) == len(labels)
    parts = [set(subjects[p]) for p in (train, val, test)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert 0.07 < len(test) / len(labels) < 0.13
    for c in (CLASSES.index("happy"), CLASSES.index("surprise")):  # common classes land in every part
        share = (labels[test] == c).sum() / (labels == c).sum()
        assert 0.05 < share < 0.15
    folds = subject_folds(labels, subjects, 5)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(labels)))
    owners = [set(subjects[f]) for f in folds]
    assert all(not (owners[i] & owners[j]) for i in range(5) for j in range(i + 1, 5))
    with pytest.raises(DatasetError, match="subjects"):
        subject_folds(labels[:5], subjects[:5], 10)


def test_one_actor_cannot_stand_for_a_class():
    labels = np.array([2] * 100 + [2] * 10 + [4] * 50)
    subjects = np.array(["actor"] * 100 + [f"p{i}" for i in range(10)] + [f"q{i}" for i in range(50)])
    weights, class_weight = sample_weights(labels, subjects, cap=5, balance=1.0)
    assert weights[:100].sum() == pytest.approx(5 / 15 * 0.5)  # the actor: 5 of 15 "images" of class 2
    assert weights[labels == 2].sum() == pytest.approx(weights[labels == 4].sum())  # classes balanced


def test_class_balance_strength_zero_keeps_the_data_mix():
    labels = np.array([5] * 90 + [1] * 10)
    subjects = np.array([f"p{i}" for i in range(100)])
    weights, class_weight = sample_weights(labels, subjects, cap=6, balance=0.5, strength=0.0)
    assert weights[labels == 5].sum() == pytest.approx(0.9)  # the sampler draws neutral as often as the data has it
    assert class_weight[5] == pytest.approx(class_weight[1]) == pytest.approx(1.0)  # and the loss weighs all alike
    half, _ = sample_weights(labels, subjects, cap=6, balance=1.0, strength=0.5)
    assert 0.5 < half[labels == 5].sum() < 0.9  # in between: sqrt of the imbalance is left


def test_identity_offsets_recover_face_shape_not_expression(ck_subset_features):
    """Add a fake face shape to one person's faces: the offsets find it; the class means do not move."""
    fs = load_features([ck_subset_features])
    person = fs.subjects == fs.subjects[0]
    shape = np.zeros_like(fs.points[0])
    shape[:, 0] = 0.05 * np.sign(fs.points[0][:, 0])  # a wider face
    shifted = fs.points + person[:, None, None] * shape
    before = identity_offsets(fs.points, fs.labels, fs.subjects)
    after = identity_offsets(shifted, fs.labels, fs.subjects)
    n = person.sum()
    gained = (after - before)[person][0]
    assert np.allclose(gained, shape * n / (n + 1) * (1 - n / len(fs)), atol=0.01)
    assert np.abs((after - before)[~person]).max() < 0.01


@pytest.fixture(scope="module")
def trained(ck_subset_features, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "ck"
    events = []
    result = run_training([ck_subset_features], out, epochs=25, model_size="tiny", batch_size=64,
                          test_fraction=0.2, val_fraction=0.15, seed=1, on_event=events.append)
    return result, events, out


def test_a_small_model_learns_on_unseen_people(trained, ck_subset_features):
    result, events, out = trained
    epochs = [e for e in events if isinstance(e, EpochMetrics)]
    assert epochs and all(e.fold is None and e.seconds > 0 and e.learning_rate > 0 for e in epochs)
    assert epochs[-1].train_loss < epochs[0].train_loss
    assert isinstance(events[-1], Finished) and events[-1].stage == "train" and not events[-1].cancelled
    # chance is 1/8; the most common class (neutral) is about a third of the faces
    assert result.metrics["accuracy"] > 0.6 and result.metrics["macro_f1"] > 0.4
    assert set(events[-1].summary) >= {"accuracy", "macro_f1", "per_class", "confusion_matrix", "classes"}
    config = json.loads((out / "config.json").read_text())
    split = config["training"]["split"]
    assert split["test"]["faces"] == result.metrics["n"] and config["complete"]
    # the summary says what its figures were measured on: the test part's faces and persons
    assert events[-1].summary["measured_on"] == {"part": "test", "faces": split["test"]["faces"],
                                                 "persons": split["test"]["subjects"], "no_person_id": 0}
    assert config["training"]["data"][0]["sha256"] and config["feature_spec"]["version"] == FEATURE_SPEC_VERSION
    assert config["parameters"] <= 1_500_000  # small: ~1.4M, most of them reading the 900 appearance values
    assert not (out / "resume").exists()
    card = (out / "MODEL_CARD.md").read_text()
    assert f"accuracy **{result.metrics['accuracy']:.3f}**" in card and config["weights_sha256"][:16] in card
    assert card.count("\n| contempt |") == 2 and "stopped before the end" not in card  # per class, confusion matrix
    fs = load_features([ck_subset_features])
    predictor = Predictor.load(out)
    probs = predictor.predict_arrays(fs.points, fs.blendshapes)
    assert probs.shape == (len(fs), 8) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.array_equal(probs, Predictor.load(out).predict_arrays(fs.points, fs.blendshapes))
    refs = (fs.ref_points, fs.ref_blend, fs.has_ref)
    with_refs = predictor.predict_arrays(fs.points, fs.blendshapes, *refs)
    assert np.array_equal(with_refs, Predictor.load(out).predict_arrays(fs.points, fs.blendshapes, *refs))
    assert np.abs(with_refs - probs).max() > 0.01  # the model uses the reference


def test_the_whole_face_mlp_learns_and_keeps_its_input_standardisation(ck_subset_features, tmp_path):
    out = tmp_path / "mlp"
    result = run_training([ck_subset_features], out, epochs=25, model_size="mlp", batch_size=64,
                          test_fraction=0.2, val_fraction=0.15, seed=1)
    assert result.metrics["accuracy"] > 0.6 and result.metrics["macro_f1"] > 0.4
    config = json.loads((out / "config.json").read_text())
    assert config["architecture"]["depth"] == 0 and config["architecture"]["standardise"]
    assert config["training"]["config"]["label_smoothing"] == 0 and config["training"]["config"]["augment"]["rotate_deg"] == 0
    predictor = Predictor.load(out)
    assert not np.allclose(predictor.model.wide_scale.numpy(), 1.0)
    fs = load_features([ck_subset_features])
    refs = (fs.ref_points, fs.ref_blend, fs.has_ref)
    probs = predictor.predict_arrays(fs.points, fs.blendshapes, *refs)
    assert np.array_equal(probs, Predictor.load(out).predict_arrays(fs.points, fs.blendshapes, *refs))
    # every ckplus48 person has several faces: this recipe then takes the person reference, and it counts
    assert config["training"]["config"]["reference"] == "auto" and config["architecture"]["reference"]
    assert config["training"]["augment_used"]["identity_swap"] == 0.5  # faces moved onto others' shapes, with it
    assert predictor.uses_reference
    assert not np.allclose(probs, predictor.predict_arrays(fs.points, fs.blendshapes), atol=1e-3)


def test_the_mlp_judges_each_face_alone_where_the_data_names_no_persons(ferplus_subset_features, tmp_path):
    out = tmp_path / "mlp"
    run_training([ferplus_subset_features], out, epochs=2, model_size="mlp", batch_size=32, test_fraction=0.0)
    config = json.loads((out / "config.json").read_text())
    assert not config["architecture"]["reference"] and config["parameters"] <= 1_500_000
    assert config["training"]["augment_used"]["identity_swap"] == 0.0  # no reference, no identity swap
    predictor = Predictor.load(out)
    fs = load_features([ferplus_subset_features])
    probs = predictor.predict_arrays(fs.points, fs.blendshapes)
    assert not predictor.uses_reference and np.isfinite(probs).all()
    # it sees each face alone: a reference, even a made-up one, changes nothing
    fake = (np.roll(fs.points, 1, axis=0), np.roll(fs.blendshapes, 1, axis=0), np.ones(len(fs), dtype=bool))
    assert np.allclose(probs, predictor.predict_arrays(fs.points, fs.blendshapes, *fake), atol=1e-6)


def test_stop_keeps_the_best_model_and_resume_continues(ck_subset_features, tmp_path):
    out = tmp_path / "run"
    stop = threading.Event()
    seen = []

    def on_event(event):
        seen.append(event)
        if isinstance(event, EpochMetrics) and event.epoch == 2:
            stop.set()

    first = run_training([ck_subset_features], out, epochs=5, model_size="tiny", seed=2, on_event=on_event, stop=stop)
    assert first.cancelled and isinstance(seen[-1], Finished) and seen[-1].cancelled
    assert json.loads((out / "config.json").read_text())["complete"] is False
    Predictor.load(out)  # the best model so far is a usable model
    assert "stopped before the end" in (out / "MODEL_CARD.md").read_text()
    assert (out / "resume" / "state.json").is_file()
    resumed = []
    second = run_training([ck_subset_features], out, epochs=5, model_size="tiny", seed=2, resume=True,
                          on_event=resumed.append)
    assert not second.cancelled
    assert [e.epoch for e in resumed if isinstance(e, EpochMetrics)][0] == 3
    assert json.loads((out / "config.json").read_text())["complete"] is True
    assert "stopped before the end" not in (out / "MODEL_CARD.md").read_text()


def test_train_cli_with_folds_prints_mean_and_std(ck_subset_features, tmp_path):
    res = CliRunner().invoke(cli, ["train", str(ck_subset_features), "--out", str(tmp_path / "cv"), "--folds", "2",
                                   "--epochs", "2", "--model-size", "tiny", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["folds"]) == 2
    for key in ("mean", "std"):
        assert set(data[key]) == {"accuracy", "macro_f1"}
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(data["folds"][0])
    assert (tmp_path / "cv" / "fold-2" / "config.json").is_file() and (tmp_path / "cv" / "cv.json").is_file()
    folds = [json.loads((tmp_path / "cv" / f"fold-{k}" / "config.json").read_text())["training"]["split"]["test"]
             for k in (1, 2)]
    assert data["pooled"]["measured_on"] == {"part": "test (pooled over folds)", "faces": sum(f["faces"] for f in folds),
                                             "persons": 30, "no_person_id": 0}  # every person of the 30 is tested once


def test_train_cli_says_what_its_figures_were_measured_on(kaggle_sample_features, tmp_path):
    res = CliRunner().invoke(cli, ["train", str(kaggle_sample_features), "--out", str(tmp_path / "m"), "--epochs",
                                   "1", "--model-size", "tiny"])
    assert res.exit_code == 0, res.output
    test = json.loads((tmp_path / "m" / "config.json").read_text())["training"]["split"]["test"]
    persons = f"{test['subjects']} person" + ("s" if test["subjects"] != 1 else "")
    assert f"measured on test: {test['faces']} faces of {persons}\n" in res.stdout


def test_train_cli_rejects_a_missing_features_file(tmp_path):
    res = CliRunner().invoke(cli, ["train", str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "m")])
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [f"emotui: error: features file not found: {tmp_path / 'nope.parquet'}"]



def test_one_class_is_an_error_and_a_class_with_no_faces_a_warning(ck_subset_features, tmp_path):
    one = features_where(ck_subset_features, tmp_path / "happy.parquet", "label", ["happy"])
    res = CliRunner().invoke(cli, ["train", str(one), "--out", str(tmp_path / "m1"), "--epochs", "1"])
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        "emotui: error: the training faces hold 1 class (happy): a classifier needs faces of at least two"]
    assert not (tmp_path / "m1" / "model.safetensors").exists()
    three = features_where(ck_subset_features, tmp_path / "three.parquet", "label", ["happy", "neutral", "surprise"])
    res = CliRunner().invoke(cli, ["train", str(three), "--out", str(tmp_path / "m3"), "--epochs", "1"])
    assert res.exit_code == 0, res.output
    assert ("no training faces of anger, contempt, disgust, fear, sad: the model will never predict them"
            in res.stderr)
    assert (tmp_path / "m3" / "model.safetensors").is_file()


def test_faces_all_held_out_are_one_line_without_a_warning(ferplus_subset_features, tmp_path):
    valid = features_where(ferplus_subset_features, tmp_path / "valid-only.parquet", "split", ["valid"])
    res = CliRunner().invoke(cli, ["train", str(valid), "--out", str(tmp_path / "m"), "--epochs", "1"])
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        "emotui: error: no faces left to train on: every row is held out for testing"]

def test_train_cli_refuses_an_output_it_cannot_write_before_training(kaggle_sample_features, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    res = CliRunner().invoke(cli, ["train", str(kaggle_sample_features), "--out", str(blocker / "m")])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit)
    assert res.output.strip().splitlines() == [f"emotui: error: Not a directory: {blocker / 'm'}"]  # no epoch ran
    res = CliRunner().invoke(cli, ["train", str(kaggle_sample_features), "--out", str(blocker)])
    assert res.exit_code == 2 and "is a file" in res.output


def test_ctrl_c_keeps_the_best_model(ck_subset_features, tmp_path):
    import signal
    import subprocess
    import sys

    out = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [sys.executable, "-m", "emotui", "train", str(ck_subset_features), "--out", str(out), "--epochs", "200",
         "--model-size", "tiny"], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    for line in proc.stderr:
        if line.startswith("epoch   2/"):
            proc.send_signal(signal.SIGINT)
            break
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, rest[-800:]
    assert "Traceback" not in rest and "interrupted: the best model so far is in" in rest
    assert Predictor.load(out).classes == CLASSES
    assert (out / "resume" / "state.json").is_file()


def test_small_datasets_get_a_validation_and_test_person_or_a_clear_error():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7] * 2)
    subjects = np.array([f"p{i}" for i in range(8)] * 2)
    train, val, test = subject_split(labels, subjects)  # 10% of 8 persons rounds to nobody without the fill
    assert len(val) and len(test) and len(train)
    assert not ({*subjects[train]} & {*subjects[val]}) and not ({*subjects[val]} & {*subjects[test]})
    train, val, test = subject_split(labels[:6], np.array(["a", "a", "b", "b", "c", "c"]))
    assert len(train) == len(val) == len(test) == 2
    with pytest.raises(DatasetError, match=r"too few persons .* need 3, found 2") as err:
        subject_split(labels[:4], np.array(["a", "a", "b", "b"]))
    assert "\n" not in str(err.value)
    _, val, test = subject_split(labels[:4], np.array(["a", "a", "b", "b"]), test_fraction=0.0)
    assert len(val) == 2 and len(test) == 0


@pytest.fixture(scope="module")
def kaggle_sample_features(tmp_path_factory):
    from emotui.data.extraction import run_extraction

    out = tmp_path_factory.mktemp("kaggle") / "kaggle-layout-sample.parquet"
    run_extraction(DATASETS / "kaggle-layout-sample", out, workers=1)
    return out


def test_a_tiny_dataset_trains_with_defaults_and_reports_validation_figures(kaggle_sample_features, tmp_path):
    events = []
    result = run_training([kaggle_sample_features], tmp_path / "m", epochs=2, on_event=events.append)
    assert result.metrics["evaluated_on"] == "test" and result.metrics["n"] > 0
    finished = [e for e in events if isinstance(e, Finished)][-1]
    assert {"confusion_matrix", "per_class", "classes"} <= set(finished.summary)
    # no test part: the Finished summary still carries the matrix and per-class figures, of the validation part
    events.clear()
    result = run_training([kaggle_sample_features], tmp_path / "v", epochs=2, test_fraction=0.0, on_event=events.append)
    summary = [e for e in events if isinstance(e, Finished)][-1].summary
    assert summary["evaluated_on"] == "validation"
    assert np.array(summary["confusion_matrix"]).sum() == summary["n"] > 0
    assert set(summary["per_class"]) == set(CLASSES)
    assert tuple(Predictor.load(tmp_path / "v").classes) == tuple(CLASSES)
    assert "## Validation metrics (no test part)" in (tmp_path / "v" / "MODEL_CARD.md").read_text()
