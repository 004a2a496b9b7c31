"""Neutral references: the person's rest face, in training and evaluation, for the transformer default."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emotui.data.features import load_features
from emotui.labels import CLASSES
from emotui.learn.evaluation import evaluate
from emotui.learn.predictor import Predictor
from emotui.learn.references import neutral_references, with_references
from emotui.learn.train_config import config_for
from emotui.learn.training import run_training

NEUTRAL = CLASSES.index("neutral")


def test_a_neutral_reference_is_the_mean_of_the_persons_neutral_faces_and_never_a_lone_photo():
    rng = np.random.default_rng(0)
    points, blend = rng.random((7, 478, 3), dtype=np.float32), rng.random((7, 52), dtype=np.float32)
    labels = np.array([NEUTRAL, 4, NEUTRAL, 0, NEUTRAL, 4, 4])
    subjects = np.array(["a", "a", "a", "b", "c", "d", "d"], dtype=object)
    ref_p, ref_b, has = neutral_references(points, blend, labels, subjects)
    assert has.tolist() == [True, True, True, False, False, False, False]  # b, d: no neutral; c: one photo alone
    assert np.allclose(ref_p[1], (points[0] + points[2]) / 2) and np.allclose(ref_b[0], (blend[0] + blend[2]) / 2)
    assert not ref_p[~has].any() and not ref_b[~has].any()


def test_with_references_keeps_the_mean_kind_and_refuses_unknown_kinds(ck_subset_features):
    fs = load_features([ck_subset_features])
    assert with_references(fs, "mean") is fs
    neutral = with_references(fs, "neutral")
    persons_with_neutral = {s for s, y in zip(fs.subjects, fs.labels) if y == NEUTRAL}
    assert neutral.has_ref.sum() == sum(s in persons_with_neutral for s in fs.subjects) > 0
    with pytest.raises(ValueError, match="unknown reference kind"):
        with_references(fs, "median")


@pytest.mark.slow
def test_the_transformer_trained_on_neutral_references_uses_them_and_evaluate_gives_them(ck_subset_features, tmp_path):
    out = tmp_path / "tf"
    cfg = config_for("transformer", reference=True, reference_from="neutral")
    run_training([ck_subset_features], out, epochs=3, model_size="transformer", batch_size=64, test_fraction=0.2,
                 val_fraction=0.15, seed=1, config=cfg)
    config = json.loads((out / "config.json").read_text())
    assert config["architecture"]["reference"] and config["architecture"]["depth"] >= 2
    predictor = Predictor.load(out)
    assert predictor.uses_reference and predictor.reference_from == "neutral"
    fs = with_references(load_features([ck_subset_features]), "neutral")
    alone = predictor.predict_arrays(fs.points, fs.blendshapes)  # the documented fallback: no reference yet
    assert np.isfinite(alone).all()
    with_rest_face = predictor.predict_arrays(fs.points, fs.blendshapes, fs.ref_points, fs.ref_blend, fs.has_ref)
    assert np.abs(with_rest_face - alone).max() > 0.01
    metrics = evaluate(ck_subset_features, out)
    assert metrics["n_with_reference"] == int(fs.has_ref.sum())
