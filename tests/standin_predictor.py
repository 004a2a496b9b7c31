"""STAND-IN for the trained classifier (emotui.predictor.Predictor), used only until that lands on this branch.

It is a fixed, deterministic linear map of the 52 MediaPipe blendshapes followed by a softmax: real
probabilities of a real face's features, but not a trained model. The lead replaces `load_test_predictor()`
with `Predictor.load()` when merging; every monitor test gets its classifier from here (directly or through the
`predictor` fixture in conftest.py).
"""

from __future__ import annotations

import hashlib

import numpy as np

from emotui.labels import CLASSES


class StandInPredictor:
    classes = CLASSES
    model_id = "stand-in-linear-blendshapes"
    model_dir = None

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.weights = rng.normal(0.0, 4.0, size=(52, len(CLASSES)))
        self.bias = rng.normal(0.0, 0.5, size=len(CLASSES))
        self.checksum = hashlib.sha256(self.weights.tobytes() + self.bias.tobytes()).hexdigest()

    def predict(self, faces) -> np.ndarray:
        if not faces:
            return np.zeros((0, len(CLASSES)))
        logits = np.stack([f.blendshapes for f in faces]).astype(np.float64) @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def load_test_predictor():
    return StandInPredictor()
