"""Model directories: model.safetensors (weights and geometry buffers) + config.json (everything else). No pickles.

Loading checks, in order: the directory and both files exist, config.json parses and is ours, the feature spec
version and class order match this emotui, the weights file is intact (its sha256 is recorded in config.json)
and every tensor has the shape the architecture expects. Each failure is a CheckpointError saying which.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from .. import __version__
from ..atomic import atomic_write_bytes
from ..errors import CheckpointError
from ..data.appearance import APPEARANCE_VERSION, CROP_SIDE, N_HOG, N_PIXELS
from ..data.features import FEATURE_SPEC_VERSION, N_BLENDSHAPES, REFERENCE_MIN_FACES
from ..data.landmarker import sha256_of
from ..labels import CLASSES

FORMAT = "emotui.checkpoint"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CALIBRATION_BUFFERS = ("logit_bias", "temperature")
CONFIG = "config.json"


def feature_spec() -> dict:
    return {
        "version": FEATURE_SPEC_VERSION,
        "points": "478 x 3: (x*W, -y*H, -z*W) centred, rotated by the pose matrix's R^T, unit RMS radius",
        "blendshapes": N_BLENDSHAPES,
        "reference": f"mean points and blendshapes of the person's faces (unlabelled), from {REFERENCE_MIN_FACES} faces on",
        "appearance": f"version {APPEARANCE_VERSION}: HOG of the eye-and-mouth-aligned {CROP_SIDE} px equalised grey "
                      f"crop, {N_HOG} values after the blendshapes, then the crop's {N_PIXELS} pixels in 0-1 row by "
                      "row (read as far as architecture.appearance says)",
    }


def save_checkpoint(model, out: Path, config: dict) -> dict:  # noqa: ANN001 - ExpressionTransformer
    """Write weights then config (with the weights' sha256) into `out`; returns the config written."""
    from safetensors.torch import save as save_bytes

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise CheckpointError(f"not saving a model with non-finite values (in {bad[0]}): training diverged")
    atomic_write_bytes(out / WEIGHTS, save_bytes(tensors, metadata={"format": FORMAT}))
    full = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "emotui_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "classes": list(CLASSES),
        "feature_spec": feature_spec(),
        "architecture": model.arch.to_dict(),
        "parameters": sum(p.numel() for p in model.parameters()),
        **config,
    }
    full["weights_sha256"] = sha256_of(out / WEIGHTS)
    full["model_id"] = f"{out.resolve().name}-{full['weights_sha256'][:8]}"
    atomic_write_bytes(out / CONFIG, (json.dumps(full, indent=2) + "\n").encode())
    return full


def read_config(model_dir: Path) -> dict:
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise CheckpointError(f"model directory not found: {model_dir}")
    path = model_dir / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{model_dir} is not an emotui model: {CONFIG} is missing")
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an emotui model configuration")
    return config


def check_compatible(config: dict, model_dir: Path) -> None:
    spec = config.get("feature_spec", {}).get("version")
    if spec != FEATURE_SPEC_VERSION:
        raise CheckpointError(
            f"{model_dir} was trained on feature spec version {spec}; this emotui computes version "
            f"{FEATURE_SPEC_VERSION}: retrain it with `emotui train`"
        )
    classes = config.get("classes")
    if classes != list(CLASSES):
        raise CheckpointError(f"{model_dir} predicts classes {classes}; emotui expects {list(CLASSES)} in that order")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{model_dir} was written by a newer emotui (format {config['format_version']})")


def load_checkpoint(model_dir: str | Path):  # noqa: ANN201 - (ExpressionTransformer, dict, sha256)
    """The model (eval mode), its config and the weights' sha256; CheckpointError when anything is off."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .model import Architecture, ExpressionTransformer

    model_dir = Path(model_dir)
    config = read_config(model_dir)
    check_compatible(config, model_dir)
    weights = model_dir / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{model_dir} is not complete: {WEIGHTS} is missing")
    checksum = sha256_of(weights)
    expected = config.get("weights_sha256")
    if expected and expected != checksum:
        raise CheckpointError(f"{weights} is corrupt or was replaced (sha256 {checksum[:12]}..., "
                              f"config.json expects {expected[:12]}...)")
    try:
        state = load_file(weights)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights} is not a readable safetensors file ({exc})") from None
    try:
        arch = Architecture(**config["architecture"])
        model = ExpressionTransformer(arch)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{model_dir}/{CONFIG} has an unusable architecture ({exc})") from None
    for key, value in model.state_dict().items():  # models from before calibration: the network's own output
        if key in CALIBRATION_BUFFERS and key not in state:
            state[key] = value
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise CheckpointError(f"{weights} holds non-finite values (in {bad[0]}): the training that wrote it diverged")
    expected_shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found_shapes = {k: tuple(v.shape) for k, v in state.items()}
    if expected_shapes != found_shapes:
        missing = sorted(set(expected_shapes) - set(found_shapes))
        wrong = sorted(k for k in set(expected_shapes) & set(found_shapes) if expected_shapes[k] != found_shapes[k])
        detail = f"missing {missing[:3]}" if missing else f"{wrong[0]} is {found_shapes[wrong[0]]}, " \
            f"expected {expected_shapes[wrong[0]]}" if wrong else f"unexpected {sorted(set(found_shapes) - set(expected_shapes))[:3]}"
        raise CheckpointError(f"{weights} does not match its architecture: {detail}")
    model.load_state_dict(state)
    model.eval()
    return model, config, checksum
