"""The classifiers on this machine and what their figures were measured on: the shipped default, then every model
directory under the new-models folder (<data dir>/models) and the models folder, newest first.

Everything is read from each model's config.json; `describe_model(check=True)` also loads the weights, so a model
whose weights are damaged or non-finite is listed with the reason it cannot be used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .. import config
from ..errors import EmotuiError


@dataclass(frozen=True)
class Measured:
    """The faces a model's figures come from: its test part, or its validation part when it had no test part."""

    part: str  # "test" or "validation"
    faces: int | None
    persons: int | None
    datasets: tuple[str, ...] = ()
    key: tuple | None = None  # equal keys: the same faces of the same data, so the figures compare
    no_person_id: int = 0  # faces of unknown persons (FER+ has no person ids)

    def text(self) -> str:
        return measured_text(self.part, self.faces, self.persons, self.no_person_id)


@dataclass(frozen=True)
class ModelEntry:
    path: Path
    name: str
    default: bool = False
    model_id: str | None = None
    created: str | None = None  # ISO time the weights were written
    accuracy: float | None = None
    macro_f1: float | None = None
    measured: Measured | None = None
    data: tuple[tuple[str, int | None], ...] = ()  # (dataset name, faces trained on)
    epochs: int | None = None
    complete: bool = True  # False: a run stopped early (the best epoch so far)
    problem: str | None = None  # why the monitor cannot use it

    @property
    def usable(self) -> bool:
        return self.problem is None

    @property
    def date(self) -> str:
        return (self.created or "")[:16].replace("T", " ")

    def figures(self) -> str:
        if self.accuracy is None:
            return "no figures"
        f1 = f", macro-F1 {self.macro_f1:.1%}" if self.macro_f1 is not None else ""
        on = f" ({self.measured.text()})" if self.measured else ""
        return f"accuracy {self.accuracy:.1%}{f1}{on}"

    def data_text(self) -> str:
        return ", ".join(f"{name} ({faces} faces)" if faces is not None else name for name, faces in self.data) or "-"


def measured_text(part: str, faces: int | None, persons: int | None, no_person_id: int = 0) -> str:
    """"test: 6 faces of 1 person": what a figure was measured on, and how much of it (a summary's "measured_on"
    dict fits its keywords). Faces without a person id are not counted as persons: 3346 faces of unknown
    people are not 3346 people."""
    if faces is None:
        return f"{part}: size not recorded"
    text = f"{part}: {faces} face{'s' if faces != 1 else ''}"
    if no_person_id and not persons:
        return text + ", no person ids"
    if persons is not None:
        text += f" of {persons} person{'s' if persons != 1 else ''}"
    return text + (f" and {no_person_id} without a person id" if no_person_id else "")


def _finite(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def measured_on(cfg: dict) -> Measured | None:
    metrics, training = cfg.get("metrics") or {}, cfg.get("training") or {}
    split = training.get("split") or {}
    part = "test" if (metrics.get("test") or {}).get("n") else "validation" if metrics.get("validation") else None
    if part is None:
        return None
    figures = metrics[part]
    counts = split.get(part) or {}
    datasets = tuple(figures.get("by_source") or ()) or tuple(
        s.get("name", "?") for s in training.get("data", []) if s.get("used", 1))
    shas = tuple(sorted(str(s.get("sha256")) for s in training.get("data", [])))
    key = (part, split.get("id"), split.get("fold"), shas) if split.get("id") and all(shas) else None
    faces = figures.get("n", counts.get("faces"))
    return Measured(part, int(faces) if faces is not None else None,
                    int(counts["subjects"]) if counts.get("subjects") is not None else None, datasets, key,
                    int(counts.get("no_person_id", 0)))


def _usable(path: Path) -> str | None:
    """Loading the weights as the monitor will: checksum, shapes and finite values."""
    from .checkpoint import load_checkpoint

    try:
        load_checkpoint(path)
    except EmotuiError as exc:
        return str(exc)
    return None


def describe_model(path: Path, *, default: bool = False, check: bool = True) -> ModelEntry:
    from .checkpoint import check_compatible, read_config

    path = Path(path)
    default = default or _key(path) == _key(config.default_model_dir())
    name = "default" if default else path.name
    try:
        cfg = read_config(path)
        check_compatible(cfg, path)
    except EmotuiError as exc:
        return ModelEntry(path, name, default, problem=str(exc))
    metrics = cfg.get("metrics") or {}
    measured = measured_on(cfg)
    figures = metrics.get(measured.part, {}) if measured else {}
    accuracy, macro_f1 = _finite(figures.get("accuracy")), _finite(figures.get("macro_f1"))
    problem = _usable(path) if check else None
    if problem is None and figures and (accuracy is None or macro_f1 is None):
        problem = "its recorded figures are not finite numbers: the training that wrote it diverged"
    training = cfg.get("training") or {}
    data = tuple((str(s.get("name", "?")), s.get("used")) for s in training.get("data", []) if not s.get("test_only"))
    return ModelEntry(path, name, default, cfg.get("model_id"), cfg.get("created"), accuracy, macro_f1, measured,
                      data, training.get("epochs_run"), bool(cfg.get("complete", True)), problem)


def model_folders() -> list[Path]:
    """Where models are looked for: new models (the dashboard's and, by habit, `train --out`'s) then ./models."""
    folders = [config.data_dir() / "models", config.models_dir()]
    return list(dict.fromkeys(f.resolve() if f.exists() else f for f in folders))


def list_models(also: list[Path | None] | tuple = (), *, check: bool = True) -> list[ModelEntry]:
    """The default first, then every model directory found (newest first); `also`: paths to list wherever they
    are (a --model given on the command line, the model in use)."""
    from .checkpoint import CONFIG

    default = config.default_model_dir()
    seen = {_key(default)}
    found: list[ModelEntry] = []
    candidates: list[Path] = [Path(p) for p in also if p is not None]
    for folder in model_folders():
        try:
            candidates += sorted(p for p in folder.iterdir() if p.is_dir())
        except OSError:
            continue
    for path in candidates:
        if _key(path) in seen or not (path / CONFIG).is_file():
            continue
        seen.add(_key(path))
        found.append(describe_model(path, check=check))
    found.sort(key=lambda e: e.created or "", reverse=True)
    return [describe_model(default, default=True, check=check), *found]


def _key(path: Path) -> Path:
    try:
        return Path(path).resolve()
    except OSError:
        return Path(path)


FEW_FACES = 100  # test parts smaller than this give figures a few faces can swing by several points


@dataclass(frozen=True)
class Comparison:
    same_faces: bool
    verdict: str  # "better", "worse", "mixed", "equal" or "not comparable"
    text: str

    @property
    def recommend_new(self) -> bool:
        return self.same_faces and self.verdict == "better"


def compare(new: ModelEntry, current: ModelEntry) -> Comparison:
    """Whether `new` beats `current`, judged only when both were measured on the same faces."""
    if not new.usable:
        return Comparison(False, "unusable", f"the new model cannot be used: {new.problem}")
    if new.accuracy is None or current.accuracy is None:
        return Comparison(False, "not comparable", "one of the two has no recorded figures")
    same = bool(new.measured and current.measured and new.measured.key is not None
                and new.measured.key == current.measured.key)
    if not same:
        return Comparison(False, "not comparable",
                          "measured on different faces: the figures do not compare (emotui evaluate both on the "
                          "same data to compare them)")
    pairs = [(new.accuracy, current.accuracy), (new.macro_f1 or 0.0, current.macro_f1 or 0.0)]
    if all(a == b for a, b in pairs):
        verdict = "equal"
    elif all(a >= b for a, b in pairs):
        verdict = "better"
    elif all(a <= b for a, b in pairs):
        verdict = "worse"
    else:
        verdict = "mixed"
    words = {"better": "better on the same test faces", "worse": "worse on the same test faces",
             "equal": "as good on the same test faces", "mixed": "better on one figure, worse on the other (same faces)"}
    text = f"the new model is {words[verdict]}"
    if new.measured.faces is not None and new.measured.faces < FEW_FACES:
        text += f", but only {new.measured.text()}: a rough figure"
    return Comparison(True, verdict, text)
