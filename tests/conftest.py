"""Shared fixtures: the real data in ../shared, isolated data directories per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
MEDIA = SHARED / "media"
DATASETS = SHARED / "datasets"
SHARED_TASK = SHARED / "models" / "face_landmarker.task"

# Tests read the landmarker from ../shared when the checkout has none (CI copies it into models/).
if not (REPO / "models" / "face_landmarker.task").exists() and SHARED_TASK.exists():
    os.environ.setdefault("EMOTUI_LANDMARKER", str(SHARED_TASK))


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    if not SHARED.is_dir():
        raise pytest.UsageError(f"the tests need ../shared beside the checkout ({SHARED} not found)")


@pytest.fixture(autouse=True)
def _isolated_data(tmp_path_factory, monkeypatch):  # noqa: ANN001
    """Each test writes its features, log database and exports to its own directory, never to ./data."""
    home = tmp_path_factory.mktemp("emotui-data")
    monkeypatch.setenv("EMOTUI_DATA", str(home))
    monkeypatch.delenv("EMOTUI_DB", raising=False)
    return home


@pytest.fixture(scope="session")
def predictor():
    """The classifier the monitor tests use (a labelled stand-in until emotui.predictor is merged)."""
    from .standin_predictor import load_test_predictor

    return load_test_predictor()
