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
    from ..data.features import (features_mirror_views, person_references, read_feature_table, table_inputs,
                                 table_subjects)
    from ..labels import normalize_label
    from .predictor import Predictor
    from .references import neutral_references

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
        subjects = table_subjects(labelled[ok]).astype(str).to_numpy()
        refs = (neutral_references(points, blend, y_true, subjects) if predictor.reference_from == "neutral"
                else person_references(points, blend, subjects))
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
        # beside what the model was trained on (config.json training.data): a kind it never saw is not refused
        "mirror_view": "+".join(features_mirror_views(features_file, table)),
    })
    seen = trained_on(predictor.config, features_file, labelled["path"].astype(str).tolist(), _beside(Path(data)))
    if seen:
        metrics["trained_on"] = seen
    return metrics


def _beside(data: Path) -> Path | None:
    """The folder that holds a dataset folder or manifest (where other datasets may sit beside it); a symlinked
    dataset keeps the path the user gave it."""
    import os

    if data.is_dir() or data.suffix.lower() == ".csv":
        return Path(os.path.abspath(data)).parent
    return None


def trained_on(config: dict, features_file: Path, images: list[str] | None = None,
               beside: Path | None = None) -> dict | None:
    """What of the model's training data this features file is: the same file by sha256 or an extraction of the
    same dataset by name, and how many of its `images` (paths) the model trained on by content (content_overlap).
    None when nothing is shared: figures on shared images flatter the model."""
    from ..data.landmarker import sha256_of

    sources = [s for s in config.get("training", {}).get("data", []) if not s.get("test_only")]
    stem = Path(features_file).stem
    names = {stem, stem.rsplit("-", 1)[0]}  # the default features file of a dataset is <name>-<hash>.parquet
    sha = sha256_of(Path(features_file))
    whole = next((s for s in sources if s.get("sha256") == sha or s.get("name") in names), None)
    overlap = content_overlap(sources, images, beside) if images and sources else None
    if whole is None and not (overlap and overlap["images_in_training"]):
        return None
    test = config.get("metrics", {}).get("test") or {}
    if whole is None:
        shared = [s for s in sources if overlap["by_source"].get(s.get("name"))]
        name, used = ", ".join(str(s.get("name")) for s in shared), sum(int(s.get("used") or 0) for s in shared)
    else:
        name, used = whole.get("name"), whole.get("used")
    out = {"name": name, "faces_used": used, "same_file": whole is not None and whole.get("sha256") == sha,
           "held_out_accuracy": test.get("accuracy"), "held_out_n": test.get("n")}
    return {**out, **(overlap or {})}


def trained_on_warning(seen: dict) -> str:
    held = (f"; its held-out test accuracy is {seen['held_out_accuracy']:.3f} on {seen['held_out_n']} faces "
            "(see its model card)" if seen.get("held_out_accuracy") is not None else "")
    counted = (f": {seen['images_in_training']} of {seen['images_evaluated']} evaluated images were in the training "
               "data" if seen.get("images_in_training") else "")
    return (f"the model was trained on {seen['name']} ({seen['faces_used']} faces){counted}: figures on it flatter "
            f"the model{held}")


# ---------------------------------------------------------------- the training data's images, by content

THUMB = 16  # a picture's content: its grey image shrunk to THUMB x THUMB
SAME_PICTURE = 1.5  # mean grey-level difference (of 255) of two thumbnails up to which two images are one picture:
# on ckplus48, a crop re-saved as JPEG (quality 75) differs by <= 1.34, the next frame of its sequence by >= 0.47
# (counted too: a near copy), the person's other sequences by >= 1.64, other persons by >= 13


def content_overlap(sources: list[dict], images: list[str], beside: Path | None = None) -> dict:
    """How many of `images` the model trained on: the same bytes (sha256), or the same picture re-encoded or a
    near copy of it (thumbnails within SAME_PICTURE), as a trained-on image of `sources` (config.json's
    training.data). A source's images are read from its features file's `path` column (the recorded file,
    else <data>/features/<name>[-<hash>].parquet), else from a dataset folder of its name `beside` the evaluated
    data; the dataset's own held-out rows (split valid/test) do not count. Image contents are cached."""
    cache = _ContentCache(_cache_file())
    seen = cache.contents(images)
    hit = np.zeros(len(images), dtype=bool)
    by_source, not_checked = {}, []
    for source in sources:
        paths = _training_images(source, beside)
        if paths is None:
            not_checked.append(str(source.get("name")))
            continue
        found = _same_pictures(seen, cache.contents(paths))
        by_source[str(source.get("name"))] = int(found.sum())
        hit |= found
    cache.save()
    out = {"images_in_training": int(hit.sum()), "images_evaluated": len(images), "by_source": by_source}
    if not_checked:
        out["not_checked"] = not_checked  # their images are nowhere to be found here
    if (~seen.ok).any():
        out["images_unreadable"] = int((~seen.ok).sum())
    return out


def _cache_file() -> Path:
    from .. import config

    return config.data_dir() / "cache" / "image-content.npz"


def _training_images(source: dict, beside: Path | None) -> list[str] | None:
    """The paths of the images a training source's faces came from (None when neither its features file nor a
    dataset of its name can be found)."""
    import re

    from .. import config
    from ..data.features import HELD_OUT_SPLITS

    name = str(source.get("name") or "")
    files = [Path(source.get("path") or "")]
    folder = config.data_dir() / "features"
    if name and folder.is_dir():
        files += sorted(f for f in folder.glob("*.parquet") if re.fullmatch(re.escape(name) + r"(-[0-9a-f]{8})?", f.stem))
    for file in files:
        if file.name and file.is_file():
            table = _columns(file, ("path", "label", "status", "split"))
            if table is not None and "path" in table:
                return _not_held_out(table, HELD_OUT_SPLITS, faces_only=True)
    dataset = beside / name if beside is not None and name else None
    return _dataset_images(dataset, HELD_OUT_SPLITS) if dataset is not None and dataset.is_dir() else None


def _dataset_images(root: Path, held_splits: frozenset) -> list[str]:
    """Every image under a dataset folder but its held-out ones (a split folder named valid/test..., or rows of
    a manifest.csv at the root with such a `split`): a quick walk, where the dataset's own discovery reads every
    manifest row's columns."""
    import csv
    import os

    from ..data.datasets import IMAGE_EXTENSIONS

    held: set[str] = set()
    manifest = root / "manifest.csv"
    if manifest.is_file():
        with open(manifest, newline="", encoding="utf-8", errors="replace") as fh:
            for row in csv.DictReader(fh):
                if str(row.get("split") or "").lower() in held_splits and (row.get("file") or row.get("path")):
                    held.add(os.path.normpath(root / (row.get("file") or row.get("path"))))
    out = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = [d for d in dirs if d.lower() not in held_splits and not d.startswith(".")]
        for file in files:
            path = os.path.join(folder, file)
            if os.path.splitext(file)[1].lower() in IMAGE_EXTENSIONS and not file.startswith(".") and \
                    os.path.normpath(path) not in held:
                out.append(os.path.abspath(path))
    return out


def _columns(file: Path, wanted: tuple[str, ...]):
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(file).names
        return pq.read_table(file, columns=[c for c in wanted if c in names]).to_pandas()
    except Exception:  # noqa: BLE001 - pyarrow raises several types for a file that is not Parquet
        return None


def _not_held_out(table, held_splits: frozenset, faces_only: bool) -> list[str]:
    """The paths of labelled rows (with a face, when `faces_only` and the table says) outside held-out splits."""
    keep = np.ones(len(table), dtype=bool)
    if faces_only and "status" in table:
        keep &= table["status"].astype(str).eq("ok").to_numpy()
    if "label" in table:
        keep &= table["label"].notna().to_numpy()
    if "split" in table:
        keep &= ~table["split"].astype(str).str.lower().isin(held_splits).to_numpy()
    return table["path"].astype(str)[keep].tolist()


class _Contents:
    """sha256 (hex), thumbnail (THUMB*THUMB uint8), aspect ratio and readability of some images."""

    def __init__(self, n: int) -> None:
        self.sha = np.full(n, "", dtype=object)
        self.thumbs = np.zeros((n, THUMB * THUMB), dtype=np.uint8)
        self.aspect = np.ones(n)
        self.ok = np.zeros(n, dtype=bool)


def _same_pictures(seen: _Contents, trained: _Contents) -> np.ndarray:
    """For each of `seen`: whether `trained` holds the same bytes or the same picture (thumbnails within
    SAME_PICTURE, aspect ratios within 5%)."""
    hit = seen.ok & np.isin(seen.sha, list(set(trained.sha[trained.ok])))
    thumbs, aspect = trained.thumbs[trained.ok].astype(np.int16), trained.aspect[trained.ok]
    means = thumbs.mean(1)
    order = np.argsort(means)
    sorted_means = means[order]
    for i in np.flatnonzero(seen.ok & ~hit):
        mean = seen.thumbs[i].mean()  # |mean difference| <= mean |difference|: only these can be close
        lo, hi = np.searchsorted(sorted_means, [mean - SAME_PICTURE, mean + SAME_PICTURE], side="right")
        near = order[lo:hi]
        near = near[np.abs(np.log(aspect[near] / seen.aspect[i])) < 0.05]
        if near.size and (np.abs(thumbs[near] - seen.thumbs[i]).mean(1) <= SAME_PICTURE).any():
            hit[i] = True
    return hit


class _ContentCache:
    """Image contents (sha256 of the bytes, thumbnail, aspect) by path, kept while size and mtime match, in one
    .npz file: each image is read once. A cache that cannot be read or written is only slower."""

    def __init__(self, file: Path) -> None:
        self.file, self.entries, self.dirty = file, {}, False
        try:
            with np.load(file, allow_pickle=False) as z:
                for path, key, sha, thumb, aspect in zip(z["path"].tolist(), z["key"].tolist(), z["sha"].tolist(),
                                                         z["thumb"], z["aspect"].tolist()):
                    self.entries[path.decode("utf-8", "surrogateescape")] = (tuple(key), sha.decode(), thumb, aspect)
        except Exception:  # noqa: BLE001 - missing, damaged or of another layout: start afresh
            self.entries = {}

    def contents(self, paths: list[str]) -> _Contents:
        out = _Contents(len(paths))
        for i, path in enumerate(paths):
            got = self._one(str(path))
            if got is not None:
                out.sha[i], out.thumbs[i], out.aspect[i] = got
                out.ok[i] = True
        return out

    def _one(self, path: str) -> tuple | None:
        import hashlib
        import os

        try:
            st = os.stat(path)
            key = (st.st_size, st.st_mtime_ns)
            if path in self.entries and self.entries[path][0] == key:
                return self.entries[path][1:]
            sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            got = (sha, *_thumbnail(path))
        except (OSError, EmotuiError):
            return None
        self.entries[path], self.dirty = (key, *got), True
        return got

    def save(self) -> None:
        from ..atomic import atomic_path

        if not self.dirty:
            return
        paths = list(self.entries)
        values = list(self.entries.values())
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.file) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, path=np.array([p.encode("utf-8", "surrogateescape") for p in paths], dtype=bytes),
                         key=np.array([v[0] for v in values], dtype=np.int64),
                         sha=np.array([v[1] for v in values], dtype="S64"),
                         thumb=np.array([v[2] for v in values], dtype=np.uint8).reshape(-1, THUMB * THUMB),
                         aspect=np.array([v[3] for v in values], dtype=float))
        except (OSError, EmotuiError):
            return


def _thumbnail(path: str) -> tuple[np.ndarray, float]:
    """The picture's grey THUMB x THUMB thumbnail (upright) and its aspect ratio; ImageReadError when unreadable."""
    import cv2

    from ..data.images import decode_image

    rgb, width, height = decode_image(path, min_side=8 * THUMB)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    thumb = cv2.resize(grey, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    return thumb.reshape(-1), width / max(height, 1)
