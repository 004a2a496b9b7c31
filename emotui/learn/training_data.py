"""A run's data, made ready before its first epoch: the training faces (with their mirror views), the judged
parts as tensors, the normalisation the model is fixed with, the sampling and loss weights, and the face-shape
offsets that identity swaps exchange."""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace

import numpy as np

from ..data.appearance import CROP_SIDE, N_HOG
from ..data.features import N_BLENDSHAPES, FeatureSet, blendshape_mirror_map, mirror_map
from ..errors import DatasetError
from ..labels import CLASSES
from .model import SIZES
from .references import with_references
from .train_config import TrainConfig


def sample_weights(labels: np.ndarray, subjects: np.ndarray, cap: int, balance: float,
                   datasets: np.ndarray | None = None, dataset_balance: float = 1.0,
                   strength: float = 1.0, source_prior: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample sampling weights and per-class loss weights.

    A person's images in one class share the weight of at most `cap` images, so one actor cannot stand for a
    class. Each dataset then weighs its size ** `dataset_balance`, so 27k web faces do not drown 1.5k lab faces.
    Classes are then balanced: the sampler evens out `balance` of the imbalance (as a power), the loss
    weights the rest; `strength` scales both powers (0 keeps the data's own class mix). With `source_prior`, each
    dataset's own class mix is evened out first (as a power), so no one source's prior speaks for all of them.
    """
    keys = np.char.add(subjects.astype(str), np.char.add("|", labels.astype(str)))
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    per_sample = np.minimum(1.0, cap / counts[inverse])
    if datasets is not None and source_prior:
        per_sample = _flatten_source_priors(per_sample, labels, datasets, source_prior)
    if datasets is not None and dataset_balance != 1.0:
        names, which = np.unique(datasets.astype(str), return_inverse=True)
        mass = np.bincount(which, weights=per_sample)
        per_sample = per_sample * (mass ** dataset_balance / mass)[which] * (mass.sum() / (mass ** dataset_balance).sum())
    mass = np.bincount(labels, weights=per_sample, minlength=len(CLASSES))
    present = mass > 0
    weights = per_sample / np.where(present, mass, 1.0)[labels] ** (balance * strength)
    class_weight = np.zeros(len(CLASSES))
    class_weight[present] = mass[present] ** -((1.0 - balance) * strength)
    class_weight[present] /= (class_weight[present] * mass[present]).sum() / mass[present].sum()
    return weights / weights.sum(), class_weight


def _flatten_source_priors(per_sample: np.ndarray, labels: np.ndarray, datasets: np.ndarray,
                           power: float) -> np.ndarray:
    """Each face divided by its class's share of its dataset ** power; each dataset keeps its total weight.
    A web set that is 40 % neutral would otherwise teach that neutral is the safe answer on every source."""
    _, which = np.unique(datasets.astype(str), return_inverse=True)
    cell = which * len(CLASSES) + labels
    cell_mass = np.bincount(cell, weights=per_sample, minlength=(which.max() + 1) * len(CLASSES))
    dataset_mass = np.bincount(which, weights=per_sample)
    # a class with a handful of faces in a dataset is lifted at most to an even share, never past it
    share = np.maximum(cell_mass[cell] / dataset_mass[which], 1.0 / len(CLASSES))
    flattened = per_sample / share ** power
    return flattened * (dataset_mass / np.bincount(which, weights=flattened))[which]


def identity_offsets(points: np.ndarray, labels: np.ndarray, subjects: np.ndarray, shrink: float = 1.0,
                     min_faces: int = 2) -> np.ndarray:
    """Each face's estimate of its person's face shape, as an offset from the average face.

    The residual of a face from the mean of its class is identity plus that image's own variation; averaging
    a person's residuals (shrunk towards zero for persons with few images) leaves mostly identity. Training
    swaps these offsets between faces, so face shape stops predicting the label.
    """
    residual = points.astype(np.float32).copy()
    for c in np.unique(labels):
        residual[labels == c] -= points[labels == c].mean(0)
    names, inverse = np.unique(subjects.astype(str), return_inverse=True)
    sums = np.zeros((len(names),) + points.shape[1:], dtype=np.float64)
    np.add.at(sums, inverse, residual)
    counts = np.bincount(inverse, minlength=len(names)).astype(np.float64)
    per_subject = sums / (counts + shrink)[:, None, None]
    # A person seen once (FER+ has no person ids) has no identity apart from that one expression: half its
    # residual would carry the expression itself onto other faces.
    per_subject[counts < min_faces] = 0.0
    return per_subject[inverse].astype(np.float32)


def fingerprint(*parts: np.ndarray) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update("\n".join(sorted(set(map(str, part)))).encode() + b"\0")
    return digest.hexdigest()[:16]


def _tensors(fs: FeatureSet) -> tuple:
    """Model inputs (points, blendshapes, reference points, reference blendshapes, has-reference) and labels."""
    import torch

    return tuple(torch.from_numpy(a) for a in (fs.points, fs.blendshapes, fs.ref_points, fs.ref_blend, fs.has_ref,
                                               fs.labels))


def _descriptors_for(fs: FeatureSet, cfg) -> FeatureSet:  # noqa: ANN001 - TrainConfig
    """The descriptors the model of `cfg` reads: the crop's pixels only for a size with crop tokens."""
    if not cfg.appearance:
        return fs.without_appearance()
    return fs if SIZES.get(cfg.model_size, {}).get("crop_grid") else fs.without_pixels()


class TrainingData:
    """One split's data as training and judging use it; numpy and torch's CPU tensors, no model."""

    def __init__(self, fs: FeatureSet, parts: tuple[np.ndarray, np.ndarray, np.ndarray], cfg: TrainConfig) -> None:
        self.train_idx, self.val_idx, self.test_idx = parts
        if len(self.val_idx) == 0 or len(self.train_idx) == 0:
            raise DatasetError("too few subjects for a training and a validation part")
        fs = with_references(fs, cfg.reference_from)
        self.fs = fs = _descriptors_for(fs, cfg)
        point_mirror = mirror_map(fs.points[self.train_idx].mean(0))
        blend_mirror = blendshape_mirror_map(fs.blendshapes.shape[1])
        self.train = train = (fs.with_view_rows(self.train_idx, point_mirror, blend_mirror) if cfg.views
                              else fs.subset(self.train_idx))
        mean, scale, ref_scale = _normalisation(train)
        self.geometry = (mean, scale, point_mirror, blend_mirror, ref_scale)  # ExpressionTransformer.set_geometry's
        reference = bool(train.has_ref.mean() >= 0.5) if cfg.reference == "auto" else cfg.reference
        self.augment = (replace(cfg.augment, identity_swap=cfg.reference_identity_swap)
                        if reference and cfg.reference_identity_swap is not None else cfg.augment)
        self.arch_overrides = {"shape_token": cfg.shape_token, "dropout": cfg.dropout,
                               "appearance": fs.blendshapes.shape[1] - N_BLENDSHAPES,
                               "crop_side": CROP_SIDE if fs.blendshapes.shape[1] > N_BLENDSHAPES + N_HOG else 0,
                               **({"wide": cfg.wide} if cfg.wide else {}),
                               **({} if reference is None else {"reference": reference})}
        self.tensors = {"train": _tensors(train), "val": _tensors(fs.subset(self.val_idx)),
                        "test": _tensors(fs.subset(self.test_idx))}
        self.views = {name: self._judged_views(name, point_mirror, blend_mirror, cfg.views) for name in ("val", "test")}
        self._sampling(cfg)
        self.steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
        self.split_id = fingerprint(fs.subjects[self.train_idx], fs.subjects[self.val_idx], fs.subjects[self.test_idx])

    def part_idx(self, name: str) -> np.ndarray:
        """Rows of `fs` in the part called `name` (train, val or test)."""
        return getattr(self, f"{name}_idx")

    def _judged_views(self, name: str, point_mirror: np.ndarray, blend_mirror: np.ndarray, views: bool) -> tuple:
        """A judged part's mirror views: (positions in the part, view inputs), averaged in at judging."""
        import torch

        part = self.fs.subset(self.part_idx(name))
        has = np.flatnonzero(part.has_view) if views else np.zeros(0, dtype=np.int64)
        seen = part.with_view_rows(has, point_mirror, blend_mirror).subset(np.arange(len(has), 2 * len(has)))
        return torch.from_numpy(has), _tensors(seen)[:5]

    def _sampling(self, cfg: TrainConfig) -> None:
        """Targets, sampling and loss weights, and the face shapes identity swaps lend."""
        import torch

        train = self.train
        targets = train.targets if cfg.soft_labels else np.eye(len(CLASSES), dtype=np.float32)[train.labels]
        self.targets = torch.from_numpy(np.ascontiguousarray(targets))
        weights, self.class_weight = sample_weights(train.labels, train.subjects, cfg.subject_cap, cfg.balance,
                                                    train.datasets, cfg.dataset_balance, cfg.class_balance,
                                                    cfg.source_prior)
        self.sample_weights = torch.from_numpy(weights)
        self.identity = torch.from_numpy(identity_offsets(train.points, train.labels, train.subjects))
        # face shapes are lent only by persons seen more than once; anyone may receive one
        known = torch.nonzero(self.identity.abs().sum((1, 2)) > 0).flatten()
        self.donors = known if len(known) else torch.arange(len(train))


def _normalisation(train: FeatureSet) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The training faces' mean, their spread per axis and that around their person's reference (None: no
    face has one)."""
    mean = train.points.mean(0)
    # one spread per axis (per-point spreads were tried: they amplify the noise of nearly rigid points)
    axis_scale = np.sqrt(((train.points - mean) ** 2).mean((0, 1)))
    scale = np.broadcast_to(axis_scale, mean.shape).copy()
    ref_scale = None
    if train.has_ref.any():
        ref_axis = np.sqrt(((train.points[train.has_ref] - train.ref_points[train.has_ref]) ** 2).mean((0, 1)))
        ref_scale = np.broadcast_to(np.maximum(ref_axis, 1e-6), mean.shape).copy()
    return mean, scale, ref_scale
