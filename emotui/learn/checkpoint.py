"""Model directories: model.safetensors (weights and geometry buffers) + config.json (everything else). No pickles.

Loading checks, in order: the directory and both files exist, config.json parses and is ours, the feature spec
version and class order match this emotui, the weights file is intact (its sha256 is recorded in config.json)
and every tensor has the shape the architecture expects. Each failure is a CheckpointError saying which.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
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


def _number(value: object, *, whole: bool) -> bool:
    """JSON's true and false are Python ints: a flag is not a size."""
    kinds = (int,) if whole else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value)


def _architecture_problem(arch: object) -> str | None:
    """What is wrong with config.json's architecture, judged by the types of Architecture's own defaults."""
    from dataclasses import fields

    from .model import N_LANDMARKS, Architecture

    if not isinstance(arch, dict):
        return "architecture is not an object"
    known = {f.name: f.default for f in fields(Architecture)}
    for key, value in arch.items():
        default = known.get(key)
        if key not in known:
            return f"architecture has an unknown field {key!r}"
        if isinstance(default, bool):
            good = isinstance(value, bool)
        else:  # sizes are whole and none negative; dropout and noise are fractions
            good = _number(value, whole=isinstance(default, int)) and value >= 0
        if not good:
            return f"architecture.{key} is {json.dumps(value)[:40]}"
    sizes = {**known, **arch}
    small = [key for key in ("dim", "heads", "ffn_mult", "n_regions") if sizes[key] < 1]
    if small:
        return f"architecture.{small[0]} is 0, not a size"
    if sizes["dim"] % sizes["heads"]:
        return f"architecture.dim {sizes['dim']} does not split into {sizes['heads']} heads"
    if sizes["n_regions"] > N_LANDMARKS:
        return f"architecture.n_regions {sizes['n_regions']} is more than the {N_LANDMARKS} points"
    if sizes["n_classes"] != len(CLASSES):
        return f"architecture.n_classes is {sizes['n_classes']}, not the {len(CLASSES)} classes"
    if sizes["dropout"] >= 1:
        return f"architecture.dropout is {sizes['dropout']}, not a fraction"
    return None


# Where the loader and its readers (Predictor, evaluation.trained_on) look, what they expect there and whether null
# is read as "none": a field may be absent, but one that is there has its type.
SHAPES = (("feature_spec", dict, False), ("classes", list, False), ("weights_sha256", str, True),
          ("model_id", str, True), ("metrics", dict, False), ("metrics.test", dict, True), ("training", dict, False),
          ("training.data", list, False), ("training.config", dict, True),
          ("training.config.reference_from", str, False))


def _field_problem(config: dict) -> str | None:
    for where, kind, nullable in SHAPES:
        *outer, key = where.split(".")
        holder = config
        for part in outer:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and key in holder and not (
                isinstance(holder[key], kind) or nullable and holder[key] is None):
            return f"{where} is not {'an object' if kind is dict else 'a list' if kind is list else 'a string'}"
    if not all(isinstance(source, dict) for source in config.get("training", {}).get("data", [])):
        return "training.data holds something that is not an object"
    if not _number(config.get("format_version", 0), whole=True):
        return "format_version is not a whole number"
    return None


def check_shape(config: dict, model_dir: Path) -> None:
    """Every field emotui reads has the type and range it needs: a damaged config.json is named here, not met
    later as an AttributeError in a comparison or torch's RuntimeError for a negative size."""
    problem = _field_problem(config) or _architecture_problem(config.get("architecture"))
    if problem:
        raise CheckpointError(f"{model_dir}/{CONFIG} is damaged: {problem}")


def check_compatible(config: dict, model_dir: Path) -> None:
    check_shape(config, model_dir)
    spec = config.get("feature_spec", {}).get("version")
    if spec != FEATURE_SPEC_VERSION:
        raise CheckpointError(
            f"{model_dir} was trained on feature spec version {spec!r}; this emotui computes version "
            f"{FEATURE_SPEC_VERSION}: retrain it with `emotui train`"
        )
    classes = config.get("classes")
    if classes != list(CLASSES):
        raise CheckpointError(f"{model_dir} predicts classes {classes}; emotui expects {list(CLASSES)} in that order")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{model_dir} was written by a newer emotui (format {config['format_version']})")


def load_checkpoint(model_dir: str | Path):  # noqa: ANN201 - (ExpressionTransformer, dict, sha256)
    """The model (eval mode), its config and the weights' sha256; CheckpointError when anything is off."""
    import torch
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
        with torch.device("meta"):  # shapes without memory: a damaged size must not allocate gigabytes first
            skeleton = ExpressionTransformer(arch).state_dict()
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{model_dir}/{CONFIG} has an unusable architecture ({why})") from None
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise CheckpointError(f"{weights} holds non-finite values (in {bad[0]}): the training that wrote it diverged")
    detail = _mismatch(skeleton, state)
    if detail:
        raise CheckpointError(f"{weights} does not match its architecture: {detail}")
    model = ExpressionTransformer(arch)
    for key in CALIBRATION_BUFFERS:  # models from before calibration: the network's own output
        state.setdefault(key, model.state_dict()[key])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # whatever the comparison above did not foresee, still named in one line
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{weights} does not load into its architecture ({why})") from None
    model.eval()
    return model, config, checksum


def _mismatch(expected: dict, found: dict) -> str | None:
    """How the weights file's tensors differ from those the architecture makes: names, shapes, then kinds."""
    missing = sorted(set(expected) - set(found) - set(CALIBRATION_BUFFERS))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(expected) & set(found) if expected[k].shape != found[k].shape)
    kinds = sorted(k for k in set(expected) & set(found) if expected[k].dtype != found[k].dtype)
    if missing:
        return f"missing {missing[:3]}"
    if unexpected:
        return f"unexpected {unexpected[:3]}"
    if wrong:
        return f"{wrong[0]} is {tuple(found[wrong[0]].shape)}, expected {tuple(expected[wrong[0]].shape)}"
    if kinds:
        return f"{kinds[0]} holds {found[kinds[0]].dtype}, expected {expected[kinds[0]].dtype}"
    return None
