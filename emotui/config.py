"""Where emotui keeps its files. Flags win over environment variables, which win over these defaults."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

PACKAGE_DIR = Path(__file__).resolve().parent
# A source checkout (or editable install) has models/ and data/ beside the package.
CHECKOUT_DIR = PACKAGE_DIR.parent
_IN_CHECKOUT = (CHECKOUT_DIR / "pyproject.toml").is_file() and (CHECKOUT_DIR / "models").is_dir()


def data_dir() -> Path:
    """Features, the prediction log and exports: $EMOTUI_DATA > ./data of a checkout > the user data dir."""
    env = os.environ.get("EMOTUI_DATA")
    if env:
        path = Path(env).expanduser()
    elif _IN_CHECKOUT:
        path = CHECKOUT_DIR / "data"
    else:
        path = Path(user_data_dir("emotui", appauthor=False))
    return path


def models_dir() -> Path:
    """Where face_landmarker.task is looked for and downloaded to: $EMOTUI_MODELS > ./models > user data dir."""
    env = os.environ.get("EMOTUI_MODELS")
    if env:
        return Path(env).expanduser()
    if _IN_CHECKOUT:
        return CHECKOUT_DIR / "models"
    return Path(user_data_dir("emotui", appauthor=False)) / "models"


def default_model_dir() -> Path:
    """The shipped classifier: models/default in a checkout, emotui/default_model inside a wheel."""
    env = os.environ.get("EMOTUI_MODEL")
    if env:
        return Path(env).expanduser()
    for candidate in (CHECKOUT_DIR / "models" / "default", PACKAGE_DIR / "default_model"):
        if (candidate / "config.json").is_file():
            return candidate
    return CHECKOUT_DIR / "models" / "default"


def log_db_path() -> Path:
    """The SQLite prediction log: $EMOTUI_DB > <data dir>/emotui.db."""
    env = os.environ.get("EMOTUI_DB")
    return Path(env).expanduser() if env else data_dir() / "emotui.db"
