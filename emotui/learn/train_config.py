"""What a training run is told: TrainConfig, the recipe a model size trains with by default, and the config as
JSON (how the resume state and the model's config.json record it)."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, replace

from ..data.features import Augment
from .recipes import DEFAULT_MODEL_SIZE, RECIPES


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 3
    patience: int = 20
    model_size: str = DEFAULT_MODEL_SIZE
    shape_token: bool = False  # a linear map of the whole normalised face as one more token
    wide: int = 0  # width of the whole-face MLP beside the transformer (emotui.learn.model.Architecture.wide)
    # inputs relative to the person's reference face too: None as the size has it; "auto" when most training faces
    # have one (lab data such as ckplus48, where it lifts 5-fold accuracy 0.853 -> 0.916; web faces have none)
    reference: bool | str | None = None
    # augment.identity_swap where the reference is taken, if set: a face moved onto another person's shape, its
    # reference with it, teaches the reference's use (ckplus48 5-fold 0.916 -> 0.930); without one it hurts FER+
    reference_identity_swap: float | None = None
    # whose face the reference is: "mean" of the person's faces, or of their "neutral" faces (emotui.learn.references)
    reference_from: str = "mean"
    dropout: float = 0.1
    label_smoothing: float = 0.1
    ema: float = 0.99  # decay of the weight average that is validated and kept (0: the raw weights)
    subject_cap: int = 6  # images of one person in one class count at most this much (identity confound)
    balance: float = 0.5  # class balance: half from the sampler, half from loss weights
    dataset_balance: float = 0.5  # each features file weighs (its faces) ** this: 0 = equal, 1 = by size
    class_balance: float = 1.0  # how far classes are evened out (1: fully, 0: the data's own mix)
    # how far each dataset's own class mix is evened out before the datasets are pooled (0: kept, 1: flat)
    source_prior: float = 0.0
    soft_labels: bool = True  # train on rater-vote distributions where a dataset has them (FER+)
    # each face's mirror view (the mesh of the mirrored image) is one more training face, and judging averages
    # over both, as prediction does (FER+ valid 0.755 -> 0.777 of all images, models/default/NOTES.md)
    views: bool = True
    # the faces' appearance (emotui.data.appearance) as model input where the features files hold it
    appearance: bool = True
    calibrate: str = "prior"  # after training, on the validation part: none | temperature | prior (temperature + bias)
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    augment: Augment = field(default_factory=Augment)


def config_for(model_size: str, **fields) -> TrainConfig:  # noqa: ANN003
    """The TrainConfig a size trains with by default (emotui.learn.recipes), with `fields` on top."""
    recipe = copy.deepcopy(RECIPES.get(model_size, {}))
    augment = replace(Augment(), **recipe.pop("augment", {}))
    return TrainConfig(**{"model_size": model_size, "augment": augment, **recipe, **fields})


def config_json(cfg: TrainConfig) -> dict:
    return {**asdict(cfg), "augment": asdict(cfg.augment)}
