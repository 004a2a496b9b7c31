"""The 8 expression classes, their fixed order, and the names datasets use for them."""

from __future__ import annotations

import re

# This order is the model's output order, the column order of every export and is stored in each checkpoint.
CLASSES: tuple[str, ...] = ("anger", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")

_SYNONYMS: dict[str, str] = {
    "angry": "anger", "anger": "anger", "mad": "anger",
    "contempt": "contempt", "contemptuous": "contempt",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "smile": "happy", "smiling": "happy",
    "neutral": "neutral", "calm": "neutral",
    "sad": "sad", "sadness": "sad", "unhappy": "sad",
    "surprise": "surprise", "surprised": "surprise", "suprise": "surprise", "surprize": "surprise",
}


def normalize_label(name: str) -> str | None:
    """Map a dataset's label to one of CLASSES, or None when it is not an expression we know.

    Unknown labels are reported by the caller, never guessed.
    """
    key = re.sub(r"[^a-z]", "", str(name).strip().lower())
    return _SYNONYMS.get(key)


def class_index(label: str) -> int:
    return CLASSES.index(label)


# The class prior a model's output carries: "data", the training data's own class mix, fitted on its validation
# part (a camera mostly sees neutral faces); "balanced", every class as likely before the face is seen, for posed
# or balanced sets (left-out ckplus48 0.693 -> 0.753, FER+ valid 0.780 -> 0.727; models/default/NOTES.md).
PRIORS = ("data", "balanced")
