"""A loaded classifier: MediaPipe faces in, class probabilities out. Built once, called per frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import config as _config
from .features import face_arrays


class Predictor:
    """Use `Predictor.load(model_dir=None)`; `.predict(faces)` returns (n, len(classes)) probabilities.

    Probabilities average the face and its mirror image (the model was trained with mirror augmentation,
    so this halves left/right noise for the price of a batch of two).
    """

    def __init__(self, model, config: dict, checksum: str, model_dir: Path) -> None:  # noqa: ANN001
        import torch

        self._torch = torch
        self.model = model
        self.config = config
        self.checksum = checksum
        self.model_dir = Path(model_dir)
        self.classes: tuple[str, ...] = tuple(config["classes"])
        self.model_id: str = config.get("model_id") or f"{self.model_dir.name}-{checksum[:8]}"
        self._flip = torch.tensor([-1.0, 1.0, 1.0])

    @classmethod
    def load(cls, model_dir: str | Path | None = None) -> Predictor:
        from .checkpoint import load_checkpoint

        path = Path(model_dir) if model_dir is not None else _config.default_model_dir()
        model, config, checksum = load_checkpoint(path)
        return cls(model, config, checksum, path)

    def predict_arrays(self, points: np.ndarray, blendshapes: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Probabilities for faces already in the feature spec (see emotui.features)."""
        torch = self._torch
        out = np.zeros((len(points), len(self.classes)), dtype=np.float32)
        m = self.model
        with torch.inference_mode():
            for start in range(0, len(points), batch_size):
                p = torch.from_numpy(np.ascontiguousarray(points[start:start + batch_size], dtype=np.float32))
                b = torch.from_numpy(np.ascontiguousarray(blendshapes[start:start + batch_size], dtype=np.float32))
                n = p.shape[0]
                both_p = torch.cat([p, p[:, m.point_mirror] * self._flip])
                both_b = torch.cat([b, b[:, m.blend_mirror]])
                probs = torch.softmax(m(both_p, both_b), dim=1)
                out[start:start + n] = ((probs[:n] + probs[n:]) / 2).numpy()
        return out

    def predict(self, faces: list) -> np.ndarray:
        """emotui.landmarker.Face list -> (n, 8) probabilities in `self.classes` order."""
        points, blend = face_arrays(faces)
        return self.predict_arrays(points, blend)
