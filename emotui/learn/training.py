"""Training: subject-disjoint splits or folds, balanced sampling with per-subject caps, AdamW with warm-up and
cosine decay, early stopping on validation macro-F1, a resumable state every epoch, the best model kept on Ctrl-C.

Layout of `out`: model.safetensors + config.json (the best model so far, always loadable); resume/ (last epoch's
weights, optimizer moments and history, removed when the run completes); with folds, one such directory per
fold (fold-1, ...) and cv.json.

The parts: emotui.learn.train_config (what a run is told), training_data (its data made ready), epochs (the
gradient steps), judging (the validation and test figures), saving (what lands on disk); here a run's course from
epoch to epoch, and the split or the folds it runs on.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..events import EpochMetrics, EventHandler, Finished, ignore
from ..data.features import FeatureSet, load_features, persons_in
from ..labels import CLASSES
from .epochs import EpochTrainer, Stopped, augment_batch_for
from .evaluation import metrics_from_confusion, summarize_folds
from .judging import PartJudge
from .recipes import DEFAULT_MODEL_SIZE
from .saving import RunFiles, completed_fold
from .splits import subject_folds, subject_split
from .train_config import TrainConfig, config_for
from .training_data import TrainingData, identity_offsets, sample_weights

# what other code imports from here (the config, weights and offsets live in the modules above)
__all__ = ["TrainConfig", "TrainResult", "augment_batch_for", "config_for", "identity_offsets", "run_training",
           "sample_weights"]


@dataclass
class TrainResult:
    out: Path
    metrics: dict  # test metrics (pooled over folds with --folds), or validation metrics without a test part
    folds: list[dict] | None = None
    mean: dict | None = None
    std: dict | None = None
    cancelled: bool = False

    def to_json(self) -> dict:
        if self.folds is None:
            return {**self.metrics, "out": str(self.out), "cancelled": self.cancelled}
        return {"folds": self.folds, "mean": self.mean, "std": self.std, "pooled": self.metrics,
                "out": str(self.out), "cancelled": self.cancelled}


class _Run:
    """One training run on one split (a fold or the single train/val/test split), epoch by epoch."""

    def __init__(self, fs: FeatureSet, parts: tuple[np.ndarray, np.ndarray, np.ndarray], out: Path,
                 cfg: TrainConfig, fold: int | None, on_event: EventHandler, stop: threading.Event | None,
                 images_of: dict | None = None) -> None:
        import torch

        from .model import Architecture, ExpressionTransformer

        self.cfg, self.fold = cfg, fold
        self.on_event, self.stop = on_event, stop
        self.data = data = TrainingData(fs, parts, cfg)
        torch.manual_seed(cfg.seed)
        self.model = ExpressionTransformer(Architecture.of_size(cfg.model_size, **data.arch_overrides))
        self.model.set_geometry(*data.geometry)
        self.model.fit_standardisation(*data.tensors["train"][:5])
        # Validation holds few persons, so single epochs' weights score noisily; an average of recent weights
        # is both better and steadier to select among.
        self.scored = copy.deepcopy(self.model) if cfg.ema > 0 else self.model
        self.trainer = EpochTrainer(self.model, self.scored, data, cfg)
        self.optimizer = self.trainer.optimizer
        self.judge = PartJudge(self.scored, data, images_of or {})
        self.files = RunFiles(out, cfg, data, fold, self.model, self.scored, self.optimizer)
        self.state = {"epoch": 0, "step": 0, "best_f1": -1.0, "best_epoch": 0, "history": [], "done": False}
        self.best_state = None

    def run(self, resume: bool) -> tuple[dict, bool]:
        """Train to the end, to early stopping or to a stop; returns (final metrics, cancelled)."""
        if resume:
            self.try_resume()
        cancelled = False
        try:
            while not self.state["done"] and self.state["epoch"] < self.cfg.epochs:
                self._epoch()
        except (Stopped, KeyboardInterrupt):
            cancelled = True
        if self.best_state is None:
            return {}, True
        return self._finish(cancelled), cancelled

    def try_resume(self) -> bool:
        loaded = self.files.load_resume(self.state)
        if loaded is None:
            return False
        self.state, self.best_state = loaded
        return True

    def _epoch(self) -> None:
        """One epoch, its validation, the best weights saved if they are, the resume state and the event."""
        cfg = self.cfg
        epoch = self.state["epoch"] + 1
        started = time.perf_counter()
        train_loss, train_acc = self._train_epoch(epoch)
        val_loss, val = self.judge.evaluate("val")
        self.state["epoch"] = epoch
        best = val["macro_f1"] > self.state["best_f1"]
        if best:
            self.state["best_f1"], self.state["best_epoch"] = val["macro_f1"], epoch
            self.best_state = {k: v.detach().clone() for k, v in self.scored.state_dict().items()}
            self.files.save_model(self.state, self.best_state, {"validation": _short(val)}, complete=False)
        if epoch - self.state["best_epoch"] >= cfg.patience:
            self.state["done"] = True
        event = EpochMetrics(
            epoch=epoch, epochs=cfg.epochs, train_loss=train_loss, train_accuracy=train_acc,
            val_loss=val_loss, val_accuracy=val["accuracy"], val_macro_f1=val["macro_f1"],
            learning_rate=self.optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - started,
            fold=self.fold, best=best,
        )
        self.state["history"].append({k: getattr(event, k) for k in event.__slots__})
        self.files.save_resume(self.state, self.best_state)
        self.on_event(event)

    def _finish(self, cancelled: bool) -> dict:
        """The best weights calibrated, judged and saved (complete unless the run was stopped)."""
        self.scored.load_state_dict(self.best_state)
        calibration = self.judge.calibrate(self.cfg.calibrate)
        _, val = self.judge.evaluate("val")
        metrics = {"validation": _short(val), "calibration": calibration}
        self.validation = val  # the full metrics, for a run without a test part
        if len(self.data.test_idx):
            _, test = self.judge.evaluate("test")
            metrics["test"] = test
        self.files.save_model(self.state, self.best_state, metrics, complete=not cancelled)
        if not cancelled:
            self.files.remove_resume()
        return metrics

    def _train_epoch(self, epoch: int) -> tuple[float, float]:
        # a method of the run, not only of the trainer: tests interrupt a run by replacing it
        return self.trainer.train_epoch(epoch, self.state, self.stop)


def _check_classes(targets: np.ndarray, on_warning=None) -> None:  # noqa: ANN001
    """A classifier needs faces of two classes; a class with none (labels or rater votes) is never predicted."""
    if not len(targets):  # no faces at all: run_training says why (every row held out)
        return
    present = targets.sum(0) > 0
    if present.sum() < 2:
        raise DatasetError(f"the training faces hold 1 class ({CLASSES[int(np.flatnonzero(present)[0])]}): "
                           "a classifier needs faces of at least two")
    missing = [c for c, here in zip(CLASSES, present) if not here]
    if missing and on_warning is not None:
        on_warning(f"no training faces of {', '.join(missing)}: the model will never predict them")


def _short(metrics: dict) -> dict:
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "n": metrics["n"]}


def _measured_on(part: str, faces: int, fs: FeatureSet, idx: np.ndarray) -> dict:
    """What figures were measured on: the part, its faces, and the persons among them (faces without an id apart)."""
    persons, no_id = persons_in(fs.subjects[idx], fs.paths[idx])
    return {"part": part, "faces": faces, "persons": persons, "no_person_id": no_id}


def run_training(
    features: list[Path], out: Path, *, epochs: int = 60, batch_size: int | None = None, lr: float = 1e-3,
    model_size: str = DEFAULT_MODEL_SIZE, val_fraction: float = 0.1, test_fraction: float = 0.1, folds: int | None = None,
    seed: int = 0, resume: bool = False, config: TrainConfig | None = None, on_event: EventHandler = ignore,
    stop: threading.Event | None = None, threads: int = 1, test_on: list[Path] | None = None,
    on_warning=None,  # noqa: ANN001
) -> TrainResult:
    """Train on one or more features files; see the module doc for what lands in `out`.

    Rows a dataset keeps for judging (a `split` of valid or test, as FER+'s validation part) are never trained
    on: they join the test part. `test_on` files are test data only: a model judged on people, cameras and light
    it never saw (with `test_fraction` 0 they are the whole test part).

    `threads` sets torch's intra-op threads for the process: this model is small enough that one thread per
    run is the most efficient on a shared machine (run folds or experiments side by side instead).
    """
    import torch

    torch.set_num_threads(threads)
    cfg = replace(config or config_for(model_size), epochs=epochs, lr=lr, model_size=model_size,
                  val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
                  **({"batch_size": batch_size} if batch_size else {}))
    fs, held, images_of = _load(features, test_on or [], test_fraction, on_warning)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails now, not after the last epoch
    torch.manual_seed(seed)
    if not folds:
        return _train_split(fs, held, images_of, out, cfg, resume, on_event, stop)
    if held.any():  # folds judge the dataset on itself; its held-out rows stay out of every fold's training
        fs = fs.subset(np.flatnonzero(~held))
    return _train_folds(fs, folds, out, cfg, resume, on_event, stop)


def _load(features: list[Path], test_on: list[Path], test_fraction: float,
          on_warning) -> tuple[FeatureSet, np.ndarray, dict]:  # noqa: ANN001
    """The faces of all files, which rows are held out of training, and the labelled images of each test-only
    part (so its figures can count faces the landmarker missed)."""
    train_files, test_files = [Path(f) for f in features], [Path(f) for f in test_on]
    overlap = {p.resolve() for p in train_files} & {p.resolve() for p in test_files}
    if overlap:
        raise DatasetError(f"{sorted(overlap)[0]} is both training and --test-on data")
    fs = load_features(train_files + test_files, on_warning=on_warning)
    test_names = {p.stem for p in test_files}
    if len({p.stem for p in train_files + test_files}) < len(train_files + test_files):
        raise DatasetError("two features files share a name; rename one (a file's name identifies its dataset)")
    held = fs.held_out | np.isin(fs.datasets.astype(str), list(test_names))
    _check_classes(fs.targets[~held], on_warning)
    images_of = {}
    for src in fs.sources:
        if src["name"] in test_names:
            src["test_only"] = True
            images_of[(src["name"], "test")] = src["labelled_images"]
        elif src.get("held_out_images") and test_fraction == 0:
            images_of[(src["name"], "test")] = src["held_out_images"]
    return fs, held, images_of


def _train_split(fs: FeatureSet, held: np.ndarray, images_of: dict, out: Path, cfg: TrainConfig, resume: bool,
                 on_event: EventHandler, stop: threading.Event | None) -> TrainResult:
    """One subject-disjoint split; the held-out rows join its test part."""
    rest = np.flatnonzero(~held)
    if len(rest) == 0:
        raise DatasetError("no faces left to train on: every row is held out for testing")
    tr, va, te = subject_split(fs.labels[rest], fs.subjects[rest], test_fraction=cfg.test_fraction,
                               val_fraction=cfg.val_fraction, seed=cfg.seed)
    parts = (rest[tr], rest[va], np.sort(np.concatenate([rest[te], np.flatnonzero(held)])))
    run = _Run(fs, parts, out, cfg, None, on_event, stop, images_of)
    metrics, cancelled = run.run(resume)
    if metrics.get("test"):
        final = {**metrics["test"], "evaluated_on": "test"}
    else:  # no test part: the validation part's figures, labelled as such (the dashboard shows them)
        final = {**getattr(run, "validation", {}), "evaluated_on": "validation",
                 "note": "validation metrics (no test part)"}
    if "n" in final:  # what the figures were measured on, and how much of it (the dashboard and CLI say so)
        idx = run.data.test_idx if final["evaluated_on"] == "test" else run.data.val_idx
        final["measured_on"] = _measured_on(final["evaluated_on"], final["n"], fs, idx)
    if metrics.get("calibration"):
        final["calibration"] = metrics["calibration"]
    on_event(Finished(stage="train", summary=final, cancelled=cancelled))
    return TrainResult(out=out, metrics=final, cancelled=cancelled)


def _train_folds(fs: FeatureSet, folds: int, out: Path, cfg: TrainConfig, resume: bool, on_event: EventHandler,
                 stop: threading.Event | None) -> TrainResult:
    """Subject-grouped cross-validation, one run per fold in out/fold-k; with `resume`, completed folds stay."""
    results, cancelled, tested = [], False, []
    for k, test_idx in enumerate(subject_folds(fs.labels, fs.subjects, folds, seed=cfg.seed), start=1):
        rest = np.setdiff1d(np.arange(len(fs)), test_idx)
        rest_val = cfg.val_fraction / max(1e-9, 1 - 1 / folds)
        train_r, val_r, _ = subject_split(fs.labels[rest], fs.subjects[rest], test_fraction=0.0,
                                          val_fraction=rest_val, seed=cfg.seed + k)
        fold_dir = out / f"fold-{k}"
        done = completed_fold(fold_dir)
        if resume and done is not None:
            results.append(done)
            tested.append(test_idx)
            continue
        metrics, cancelled = _Run(fs, (rest[train_r], rest[val_r], test_idx), fold_dir, cfg, k, on_event, stop).run(resume)
        if cancelled:
            break
        results.append({**metrics["test"], "fold": k})
        tested.append(test_idx)
    summary, pooled = (_pool_folds(results, fs, np.concatenate(tested)) if results else ({}, {}))
    if results:
        out.mkdir(parents=True, exist_ok=True)
        (out / "cv.json").write_text(json.dumps(summary, indent=2) + "\n")
    on_event(Finished(stage="train", summary=summary, cancelled=cancelled))
    return TrainResult(out=out, metrics=pooled, folds=results,
                       mean=summary.get("mean"), std=summary.get("std"), cancelled=cancelled)


def _pool_folds(results: list[dict], fs: FeatureSet, tested: np.ndarray) -> tuple[dict, dict]:
    """(cv.json's summary, the pooled test metrics): confusions summed over folds, overall and per source, with
    the folds' mean and spread."""
    pooled = metrics_from_confusion(np.sum([r["confusion_matrix"] for r in results], axis=0))
    sources = sorted({src for r in results for src in r.get("by_source", {})})
    if sources:
        pooled["by_source"] = {}
        for src in sources:
            per_fold = [r["by_source"][src] for r in results if src in r.get("by_source", {})]
            pooled["by_source"][src] = {
                **metrics_from_confusion(np.sum([m["confusion_matrix"] for m in per_fold], axis=0)),
                **summarize_folds(per_fold),
            }
    summary = {**pooled, **summarize_folds(results), "folds": results}
    summary["accuracy"], summary["macro_f1"] = summary["mean"]["accuracy"], summary["mean"]["macro_f1"]
    summary["measured_on"] = pooled["measured_on"] = _measured_on("test (pooled over folds)", pooled["n"], fs, tested)
    return summary, pooled
