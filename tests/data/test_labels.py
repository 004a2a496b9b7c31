import pytest

from emotui.labels import CLASSES, normalize_label


def test_eight_classes_in_fixed_order():
    assert CLASSES == ("anger", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")


@pytest.mark.parametrize(
    "name,expected",
    [
        ("Surprised", "surprise"), ("HAPPINESS", "happy"), ("Angry", "anger"), ("sadness", "sad"),
        ("Disgusted", "disgust"), ("Fearful", "fear"), ("Contempt", "contempt"), (" Neutral ", "neutral"),
        ("happy", "happy"),
    ],
)
def test_synonyms_map_case_insensitively(name, expected):
    assert normalize_label(name) == expected


@pytest.mark.parametrize("name", ["bored", "", "images", "train", "an"])
def test_unknown_labels_are_not_guessed(name):
    assert normalize_label(name) is None
