"""Classification metrics (numpy only) and evaluating a model on a features file or a dataset directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import EmotuiError
from ..labels import CLASSES


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...] = CLASSES) -> dict:
    """accuracy, macro_f1 (over the classes present in y_true), per_class and confusion_matrix (rows = true)."""
    n = len(classes)
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return metrics_from_confusion(cm, classes)


def metrics_from_confusion(cm: np.ndarray, classes: tuple[str, ...] = CLASSES) -> dict:
    """The same metrics from a confusion matrix (so folds can be pooled by adding their matrices)."""
    cm = np.asarray(cm, dtype=np.int64)
    n = len(classes)
    tp = np.diag(cm).astype(float)
    support = cm.sum(1)
    predicted = cm.sum(0)
    precision = np.divide(tp, predicted, out=np.zeros(n), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(n), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(n), where=(precision + recall) > 0)
    present = support > 0
    return {
        "accuracy": float(tp.sum() / max(cm.sum(), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": {
            c: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
            for i, c in enumerate(classes)
        },
        "confusion_matrix": cm.tolist(),
        "classes": list(classes),
        "n": int(cm.sum()),
    }


def summarize_folds(fold_metrics: list[dict]) -> dict:
    """mean and std (population) of accuracy and macro_f1 over folds."""
    out: dict = {"mean": {}, "std": {}}
    for key in ("accuracy", "macro_f1"):
        values = np.array([m[key] for m in fold_metrics], dtype=float)
        out["mean"][key] = float(values.mean())
        out["std"][key] = float(values.std())
    return out


def _features_for(data: Path, on_event=None) -> Path:  # noqa: ANN001
    """A features file as is; a dataset directory or CSV manifest (path,label[,subject]) extracted (with the
    cache) by emotui.data.extraction, its events (progress, skipped images) passed to `on_event`."""
    if data.is_file() and data.suffix.lower() != ".csv":
        return data
    if not data.exists():
        raise EmotuiError(f"no such features file, dataset directory or CSV manifest: {data}")
    try:
        from ..data import extraction  # noqa: PLC0415 - optional part; wired when the extraction branch is merged
    except ImportError:
        raise EmotuiError(
            f"{data} is a directory, but dataset extraction is unavailable in this build: pass a features file"
        ) from None
    out = extraction.features_path_for(data)
    extraction.run_extraction(data, out=out, **({"on_event": on_event} if on_event else {}))
    return out


def evaluate(data: str | Path, model_dir: str | Path | None = None, predictor=None,  # noqa: ANN001
             on_event=None, prior: str = "data") -> dict:  # noqa: ANN001
    """Metrics of a model on labelled data: faces found are classified, each with its person's reference where the
    data names persons (as in training); images without a face count as errors in accuracy_all only. `prior`:
    emotui.learn.predictor.PRIORS (for a model loaded here; a given `predictor` keeps its own)."""
    from ..data.features import person_references, read_feature_table, table_inputs, table_subjects
    from ..labels import normalize_label
    from .predictor import Predictor

    predictor = predictor or Predictor.load(model_dir, prior)
    features_file = _features_for(Path(data), on_event)
    table = read_feature_table(features_file)
    labels = table["label"].map(lambda v: normalize_label(v) if isinstance(v, str) else None)
    labelled = table[labels.notna()]
    labels = labels[labels.notna()]
    if labelled.empty:
        raise EmotuiError(f"no labelled images in {data}")
    ok = (labelled["status"] == "ok").to_numpy()
    y_true = np.array([predictor.classes.index(v) for v in labels[ok]], dtype=np.int64)
    if ok.any():
        points, blend, views = table_inputs(labelled[ok])
        refs = person_references(points, blend, table_subjects(labelled[ok]).astype(str).to_numpy())
        y_pred = predictor.predict_arrays(points, blend, *refs, views=views).argmax(1)
        with_reference = int(refs[2].sum())
    else:
        y_pred, with_reference = np.zeros(0, dtype=np.int64), 0
    metrics = classification_metrics(y_true, y_pred, predictor.classes)
    metrics.pop("n")
    n_images = int(len(labelled))
    metrics.update({
        "n_images": n_images,
        "n_faces": int(ok.sum()),
        "n_with_reference": with_reference,
        "n_no_face": int((labelled["status"] == "no_face").sum()),
        "n_failed": int((~ok).sum() - (labelled["status"] == "no_face").sum()),
        "accuracy_all": float((y_true == y_pred).sum() / n_images),
        "model": predictor.model_id,
        "prior": predictor.prior,
        "data": str(data),
    })
    seen = trained_on(predictor.config, features_file)
    if seen:
        metrics["trained_on"] = seen
    return metrics


def trained_on(config: dict, features_file: Path) -> dict | None:
    """The model's training data that this features file is (the same file by sha256, or an extraction of the
    same dataset by name): figures on it flatter the model."""
    from ..data.landmarker import sha256_of

    stem = Path(features_file).stem
    names = {stem, stem.rsplit("-", 1)[0]}  # the default features file of a dataset is <name>-<hash>.parquet
    sha = sha256_of(Path(features_file))
    for source in config.get("training", {}).get("data", []):
        if source.get("test_only"):
            continue
        if source.get("sha256") == sha or source.get("name") in names:
            test = config.get("metrics", {}).get("test") or {}
            return {"name": source.get("name"), "faces_used": source.get("used"), "same_file": source.get("sha256") == sha,
                    "held_out_accuracy": test.get("accuracy"), "held_out_n": test.get("n")}
    return None


def trained_on_warning(seen: dict) -> str:
    held = (f"; its held-out test accuracy is {seen['held_out_accuracy']:.3f} on {seen['held_out_n']} faces "
            "(see its model card)" if seen.get("held_out_accuracy") is not None else "")
    return (f"the model was trained on {seen['name']} ({seen['faces_used']} faces): figures on it flatter the "
            f"model{held}")
