"""Training recipes by model size: the TrainConfig and Augment fields each size changes from their defaults.

The transformer sizes keep the defaults (augmentations that move each face, class balance, label smoothing),
which suit the region tokens on posed lab faces. The whole-face MLP trains as the ceiling probe did
(benchmarks/probe_mlp.py): vote distributions as they are, no geometric augmentation, light weight decay, large
batches (each of those cost it accuracy on unseen FER+ faces; see the model notes). Classes stay balanced in
training: the prior fitted on validation afterwards brings back the data's own mix, for a macro-F1 5 points
higher at the same accuracy than training on that mix. Plain data: no torch import here,
so the dashboard can read it while it draws.
"""

from __future__ import annotations

DEFAULT_MODEL_SIZE = "transformer-crop"  # the shipped default since 2026-12-07 (models/default/NOTES.md)
MODEL_SIZES = ("mlp", "transformer", "transformer-crop", "tiny", "small")  # what train --model-size takes

RECIPES: dict[str, dict] = {
    "mlp": {
        "label_smoothing": 0.0,
        "weight_decay": 0.001,
        "batch_size": 256,
        "reference": "auto",  # the person reference where most training faces have one (not FER+: no person ids)
        "reference_identity_swap": 0.5,  # and identity swapping with it (the transformer's; see TrainConfig)
        "augment": {"rotate_deg": 0.0, "scale": 0.0, "jitter": 0.0, "blend_jitter": 0.0, "dropout": 0.0,
                    "identity_swap": 0.0},
    },
    # The MLP's recipe: the transformer holds it as its face token, and what moved each face hurt that
    # token on unseen web faces. No person reference yet (the cell tokens take the descriptors alone).
    "transformer": {
        "label_smoothing": 0.0,
        "weight_decay": 0.001,
        "batch_size": 256,
        "reference": False,
        "augment": {"rotate_deg": 0.0, "scale": 0.0, "jitter": 0.0, "blend_jitter": 0.0, "dropout": 0.0,
                    "identity_swap": 0.0},
    },
}
RECIPES["transformer-crop"] = RECIPES["transformer"]  # the crop tokens bring their own augmentation
