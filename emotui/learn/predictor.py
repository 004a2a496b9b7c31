"""A loaded classifier: MediaPipe faces in, class probabilities out. Built once, called per frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import config as _config
from ..errors import EmotuiError
from ..data.features import face_inputs
from ..labels import PRIORS




class Predictor:
    """Use `Predictor.load(model_dir=None, prior="data")`; `.predict(faces)` returns (n, len(classes))
    probabilities, each the average over the face and its mirror image (ExpressionTransformer.probabilities) and,
    where the face has one, over its mirror view (emotui.data.landmarker.Face.mirror_view) too."""

    def __init__(self, model, config: dict, checksum: str, model_dir: Path,  # noqa: ANN001
                 prior: str = "data") -> None:
        import torch

        if prior not in PRIORS:
            raise EmotuiError(f"unknown prior {prior!r} (one of: {', '.join(PRIORS)})")
        if prior == "balanced":
            model.logit_bias.zero_()  # the fitted bias is the prior; the temperature stays
        self.prior = prior
        if getattr(model, "crop", None) is not None:
            model.crop.fuse_for_inference()

        self._torch = torch
        self.model = model
        self.config = config
        self.checksum = checksum
        self.model_dir = Path(model_dir)
        self.classes: tuple[str, ...] = tuple(config["classes"])
        self.model_id: str = config.get("model_id") or f"{self.model_dir.name}-{checksum[:8]}"
        # a model without reference inputs (the MLP size) judges each face alone, whatever references it is given
        self.uses_reference: bool = bool(config.get("architecture", {}).get("reference", True))
        # whose face it was trained to compare with: the person's mean face, or their neutral (rest) face
        self.reference_from: str = (config.get("training", {}).get("config", {}) or {}).get("reference_from", "mean")

    @classmethod
    def load(cls, model_dir: str | Path | None = None, prior: str = "data") -> Predictor:
        from .checkpoint import load_checkpoint

        path = Path(model_dir) if model_dir is not None else _config.default_model_dir()
        return cls(*load_checkpoint(path), path, prior)

    def predict_arrays(self, points: np.ndarray, blendshapes: np.ndarray, ref_points: np.ndarray | None = None,
                       ref_blend: np.ndarray | None = None, has_ref: np.ndarray | None = None,
                       batch_size: int = 512, views: tuple | None = None) -> np.ndarray:
        """Probabilities for faces already in the feature spec (see emotui.data.features), with their person
        references where known and their mirror views (view_points, view_blend, has_view) where given."""
        if not len(points):  # no faces carry no descriptors to check, whatever width they were given at
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        blendshapes = self._descriptors(blendshapes)
        ref_blend = None if ref_blend is None else self._descriptors(ref_blend)
        views = None if views is None else (views[0], self._descriptors(views[1]), views[2])
        arrays = [points, blendshapes] + ([] if ref_points is None else [ref_points, ref_blend, has_ref])
        has = self._own_views(points, blendshapes, views)
        if len(has):  # in the same batch: for a frame's few faces one call costs what two would each
            seen = [views[0][has], views[1][has]]
            if ref_points is not None:  # the view is of the mirrored image: so is its person's reference
                seen += [*self._mirrored(ref_points[has], ref_blend[has]), has_ref[has]]
            arrays = [np.concatenate([a, b]) for a, b in zip(arrays, seen)]
        out = self._probabilities(arrays, batch_size)
        n = len(points)
        out, extra = out[:n], out[n:]
        out[has] = (out[has] + extra) / 2
        return out

    def _own_views(self, points: np.ndarray, blend: np.ndarray, views: tuple | None) -> np.ndarray:
        """Indices of the faces whose mirror view adds something: a view derived from the face's own detection
        (emotui.data.mirror) is the mirror image the model averages in anyway, and judging it again would double
        the classifier's time for the same probabilities. A view detected in the mirrored image is its own mesh."""
        if views is None or not views[2].any():
            return np.zeros(0, dtype=np.int64)
        has = np.flatnonzero(views[2])
        mirror_points, mirror_blend = self._mirrored(points[has], blend[has])
        same = (np.abs(views[0][has] - mirror_points).max(axis=(1, 2)) <= 1e-4) & \
            (np.abs(views[1][has] - mirror_blend).max(axis=1) <= 1e-5)
        return has[~same]

    def _mirrored(self, points: np.ndarray, blend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's own mirror (ExpressionTransformer.mirror) on numpy arrays."""
        flip = np.array([-1.0, 1.0, 1.0], dtype=np.float32)
        return points[:, self.model.point_mirror.numpy()] * flip, blend[:, self.model.blend_mirror.numpy()]

    def _descriptors(self, blend: np.ndarray) -> np.ndarray:
        """The descriptor columns this model reads: the blendshapes, and the appearance if it was trained on it."""
        width = self.model.blend_mirror.numel()
        if blend.shape[1] < width:
            raise EmotuiError(f"{self.model_id} reads the faces' appearance, which these faces lack (a features file "
                              "of an older emotui: extract it again)")
        return blend[:, :width]

    def _probabilities(self, arrays: list[np.ndarray], batch_size: int) -> np.ndarray:
        torch = self._torch
        out = np.zeros((len(arrays[0]), len(self.classes)), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(arrays[0]), batch_size):
                batch = [torch.from_numpy(np.ascontiguousarray(a[start:start + batch_size])) for a in arrays]
                out[start:start + len(batch[0])] = self.model.probabilities(*batch).numpy()
        return out

    def predict(self, faces: list, references: tuple | None = None) -> np.ndarray:
        """emotui.data.landmarker.Face list -> (n, 8) probabilities in `self.classes` order. `references` is
        (ref_points, ref_blend, has_ref) for the faces' persons, e.g. from a ReferenceTracker."""
        points, blend, views = face_inputs(faces)
        return self.predict_arrays(points, blend, *(references or ()), views=views)
