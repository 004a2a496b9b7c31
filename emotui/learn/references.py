"""Which face a person's reference is: the mean of all their faces (labels unused, what the monitor can keep
for a track), or the mean of their neutral faces (the rest face an expression departs from; what a user gives
with `--neutral` or the monitor's neutral key).

Neutral references use the labels, so only where a person's neutral faces are known: in training, and when
evaluating a dataset whose persons were photographed at rest too (CK+'s first frames, muxspace-fe's Neutral.jpg).
A neutral face judged against its own reference has zero offsets: the model learns that no departure is neutral.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..data.features import FeatureSet, person_references
from ..labels import CLASSES

REFERENCE_KINDS = ("mean", "neutral")
NEUTRAL = CLASSES.index("neutral")


def neutral_references(points: np.ndarray, blend: np.ndarray, labels: np.ndarray,
                       subjects: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each face's person reference: the mean of that person's neutral faces, where they have one and at least
    one other face; as person_references returns them (rows without one hold zeros and has_ref False). A photo
    without a person id is its own person: a lone neutral face would be its own reference, and the reference's
    mere presence would then say "neutral"."""
    subjects = subjects.astype(str)
    _, inverse, counts = np.unique(subjects, return_inverse=True, return_counts=True)
    neutral = (labels == NEUTRAL) & (counts[inverse] >= 2)
    ref_p, ref_b, has = person_references(points[neutral], blend[neutral], subjects[neutral], min_faces=1)
    by_subject = {s: i for i, s in enumerate(subjects[neutral])}  # any neutral row of a person holds its mean
    rows = np.array([by_subject.get(s, -1) for s in subjects])
    known = rows >= 0
    out_p, out_b = np.zeros_like(points), np.zeros_like(blend)
    out_p[known], out_b[known] = ref_p[rows[known]], ref_b[rows[known]]
    return out_p, out_b, known & has[np.maximum(rows, 0)]


def with_references(fs: FeatureSet, kind: str) -> FeatureSet:
    """The same faces with their references of this kind (a FeatureSet computes the mean kind itself)."""
    if kind == "mean":
        return fs
    if kind != "neutral":
        raise ValueError(f"unknown reference kind {kind!r} (one of: {', '.join(REFERENCE_KINDS)})")
    ref_p, ref_b, has = neutral_references(fs.points, fs.blendshapes, fs.labels, fs.subjects)
    return dataclasses.replace(fs, ref_points=ref_p, ref_blend=ref_b, has_ref=has)
