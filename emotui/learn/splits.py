"""Subject-disjoint, label-stratified splits: no person is ever on both sides.

Subjects are dealt greedily, largest first, to the part whose class counts are furthest below its target
(the same idea as scikit-learn's StratifiedGroupKFold, without making scikit-learn a dependency).
"""

from __future__ import annotations

import numpy as np

from ..errors import DatasetError


def _subject_counts(labels: np.ndarray, subjects: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    names, inverse = np.unique(subjects.astype(str), return_inverse=True)
    counts = np.zeros((len(names), n_classes), dtype=np.int64)
    np.add.at(counts, (inverse, labels), 1)
    return counts, inverse


def _deal(counts: np.ndarray, fractions: list[float], rng: np.random.Generator) -> np.ndarray:
    """Assign each subject (row of class counts) to a part so each part holds its fraction of every class."""
    total = counts.sum(0).astype(float)
    targets = np.outer(fractions, total)  # (parts, classes)
    held = np.zeros_like(targets)
    # Rare classes first, then big subjects first; shuffle ties so seeds differ.
    rarity = (counts / np.maximum(total, 1)).max(1)
    order = np.lexsort((rng.random(len(counts)), -counts.sum(1), -rarity))
    part_of = np.empty(len(counts), dtype=np.int64)
    for s in order:
        # deficit of each part for this subject's classes, relative to the part's size
        after = held + counts[s]
        over = ((after - targets) / np.maximum(targets, 1e-9))[:, counts[s] > 0].max(1)
        best = int(np.argmin(over + 1e-6 * rng.random(len(fractions))))
        part_of[s] = best
        held[best] += counts[s]
    return part_of


def _fill_empty_parts(part_of: np.ndarray, counts: np.ndarray, wanted: list[int]) -> None:
    """Give every wanted part at least one subject: on a small dataset a 10% part rounds to nobody."""
    for p in wanted:
        if (part_of == p).any():
            continue
        sizes = {q: int((part_of == q).sum()) for q in wanted}
        donor = max(sizes, key=sizes.get)  # the part with most subjects gives up its smallest one
        members = np.flatnonzero(part_of == donor)
        part_of[members[np.argmin(counts[members].sum(1))]] = p


def subject_split(labels: np.ndarray, subjects: np.ndarray, *, test_fraction: float = 0.1,
                  val_fraction: float = 0.1, seed: int = 0, n_classes: int = 8) -> tuple[np.ndarray, ...]:
    """(train, val, test) row indices; test or val may be empty when its fraction is 0."""
    counts, inverse = _subject_counts(np.asarray(labels), np.asarray(subjects), n_classes)
    fractions = [1.0 - test_fraction - val_fraction, val_fraction, test_fraction]
    wanted = [p for p in range(3) if p == 0 or fractions[p] > 0]
    if len(counts) < len(wanted):
        names = " and ".join(("training", "validation", "test")[p] for p in wanted)
        raise DatasetError(f"too few persons for subject-disjoint {names} parts: need {len(wanted)}, found {len(counts)}")
    part_of = _deal(counts, fractions, np.random.default_rng(seed))
    _fill_empty_parts(part_of, counts, wanted)
    rows = part_of[inverse]
    return tuple(np.flatnonzero(rows == p) for p in range(3))


def subject_folds(labels: np.ndarray, subjects: np.ndarray, k: int, *, seed: int = 0,
                  n_classes: int = 8) -> list[np.ndarray]:
    """K lists of test-row indices, subject-grouped and stratified; together they cover every row once."""
    counts, inverse = _subject_counts(np.asarray(labels), np.asarray(subjects), n_classes)
    if k < 2 or len(counts) < k:
        raise DatasetError(f"cannot make {k} subject-disjoint folds from {len(counts)} subjects")
    part_of = _deal(counts, [1.0 / k] * k, np.random.default_rng(seed))
    rows = part_of[inverse]
    return [np.flatnonzero(rows == p) for p in range(k)]
