"""Training: subject-disjoint splits or folds, balanced sampling with per-subject caps, AdamW with warm-up and
cosine decay, early stopping on validation macro-F1, a resumable state every epoch, the best model kept on Ctrl-C.

Layout of `out`: model.safetensors + config.json (the best model so far, always loadable); resume/ (last epoch's
weights, optimizer moments and history, removed when the run completes); with folds, one such directory per
fold (fold-1, ...) and cv.json.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .calibration import expected_calibration_error, fit_temperature_and_bias
from .evaluation import classification_metrics, metrics_from_confusion, summarize_folds
from ..events import EpochMetrics, EventHandler, Finished, ignore
from ..data.features import (
    N_BLENDSHAPES,
    Augment,
    FeatureSet,
    blendshape_mirror_map,
    load_features,
    mirror_map,
    persons_in,
)
from ..labels import CLASSES
from .recipes import DEFAULT_MODEL_SIZE, RECIPES
from .splits import subject_folds, subject_split


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 3
    patience: int = 20
    model_size: str = DEFAULT_MODEL_SIZE
    shape_token: bool = False  # a linear map of the whole normalised face as one more token
    wide: int = 0  # width of the whole-face MLP beside the transformer (emotui.learn.model.Architecture.wide)
    # inputs relative to the person's reference face too: None as the size has it; "auto" when most training faces
    # have one (lab data such as ckplus48, where it lifts 5-fold accuracy 0.853 -> 0.916; web faces have none)
    reference: bool | str | None = None
    # augment.identity_swap where the reference is taken, if set: a face moved onto another person's shape, its
    # reference with it, teaches the reference's use (ckplus48 5-fold 0.916 -> 0.930); without one it hurts FER+
    reference_identity_swap: float | None = None
    dropout: float = 0.1
    label_smoothing: float = 0.1
    ema: float = 0.99  # decay of the weight average that is validated and kept (0: the raw weights)
    subject_cap: int = 6  # images of one person in one class count at most this much (identity confound)
    balance: float = 0.5  # class balance: half from the sampler, half from loss weights
    dataset_balance: float = 0.5  # each features file weighs (its faces) ** this: 0 = equal, 1 = by size
    class_balance: float = 1.0  # how far classes are evened out (1: fully, 0: the data's own mix)
    soft_labels: bool = True  # train on rater-vote distributions where a dataset has them (FER+)
    # each face's mirror view (the mesh of the mirrored image) is one more training face, and judging averages
    # over both, as prediction does (FER+ valid 0.755 -> 0.777 of all images, models/default/NOTES.md)
    views: bool = True
    # the faces' appearance (emotui.data.appearance) as model input where the features files hold it
    appearance: bool = True
    calibrate: str = "prior"  # after training, on the validation part: none | temperature | prior (temperature + bias)
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    augment: Augment = field(default_factory=Augment)


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


def config_for(model_size: str, **fields) -> TrainConfig:  # noqa: ANN003
    """The TrainConfig a size trains with by default (emotui.learn.recipes), with `fields` on top."""
    recipe = copy.deepcopy(RECIPES.get(model_size, {}))
    augment = replace(Augment(), **recipe.pop("augment", {}))
    return TrainConfig(**{"model_size": model_size, "augment": augment, **recipe, **fields})


class _Stopped(Exception):
    pass


def sample_weights(labels: np.ndarray, subjects: np.ndarray, cap: int, balance: float,
                   datasets: np.ndarray | None = None, dataset_balance: float = 1.0,
                   strength: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample sampling weights and per-class loss weights.

    A person's images in one class share the weight of at most `cap` images, so one actor cannot stand for a
    class. Each dataset then weighs its size ** `dataset_balance`, so 27k web faces do not drown 1.5k lab faces.
    Classes are then balanced: the sampler evens out `balance` of the imbalance (as a power), the loss
    weights the rest; `strength` scales both powers (0 keeps the data's own class mix).
    """
    keys = np.char.add(subjects.astype(str), np.char.add("|", labels.astype(str)))
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    per_sample = np.minimum(1.0, cap / counts[inverse])
    if datasets is not None and dataset_balance != 1.0:
        names, which = np.unique(datasets.astype(str), return_inverse=True)
        mass = np.bincount(which, weights=per_sample)
        per_sample = per_sample * (mass ** dataset_balance / mass)[which] * (mass.sum() / (mass ** dataset_balance).sum())
    mass = np.bincount(labels, weights=per_sample, minlength=len(CLASSES))
    present = mass > 0
    weights = per_sample / np.where(present, mass, 1.0)[labels] ** (balance * strength)
    class_weight = np.zeros(len(CLASSES))
    class_weight[present] = mass[present] ** -((1.0 - balance) * strength)
    class_weight[present] /= (class_weight[present] * mass[present]).sum() / mass[present].sum()
    return weights / weights.sum(), class_weight


def identity_offsets(points: np.ndarray, labels: np.ndarray, subjects: np.ndarray, shrink: float = 1.0,
                     min_faces: int = 2) -> np.ndarray:
    """Each face's estimate of its person's face shape, as an offset from the average face.

    The residual of a face from the mean of its class is identity plus that image's own variation; averaging
    a person's residuals (shrunk towards zero for persons with few images) leaves mostly identity. Training
    swaps these offsets between faces, so face shape stops predicting the label.
    """
    residual = points.astype(np.float32).copy()
    for c in np.unique(labels):
        residual[labels == c] -= points[labels == c].mean(0)
    names, inverse = np.unique(subjects.astype(str), return_inverse=True)
    sums = np.zeros((len(names),) + points.shape[1:], dtype=np.float64)
    np.add.at(sums, inverse, residual)
    counts = np.bincount(inverse, minlength=len(names)).astype(np.float64)
    per_subject = sums / (counts + shrink)[:, None, None]
    # A person seen once (FER+ has no person ids) has no identity apart from that one expression: half its
    # residual would carry the expression itself onto other faces.
    per_subject[counts < min_faces] = 0.0
    return per_subject[inverse].astype(np.float32)


def _fingerprint(*parts: np.ndarray) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update("\n".join(sorted(set(map(str, part)))).encode() + b"\0")
    return digest.hexdigest()[:16]


def _lr_factor(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


class _Run:
    """One training run on one split (a fold or the single train/val/test split)."""

    def __init__(self, fs: FeatureSet, parts: tuple[np.ndarray, np.ndarray, np.ndarray], out: Path,
                 cfg: TrainConfig, fold: int | None, on_event: EventHandler, stop: threading.Event | None,
                 images_of: dict | None = None) -> None:
        import torch

        from .model import Architecture, ExpressionTransformer

        self.torch, self.fs, self.out, self.cfg, self.fold = torch, fs, Path(out), cfg, fold
        self.images_of = images_of or {}
        self.on_event, self.stop = on_event, stop
        self.train_idx, self.val_idx, self.test_idx = parts
        if len(self.val_idx) == 0 or len(self.train_idx) == 0:
            raise DatasetError("too few subjects for a training and a validation part")
        torch.manual_seed(cfg.seed)
        if not cfg.appearance:
            fs = fs.without_appearance()
        self.fs = fs
        mean = fs.points[self.train_idx].mean(0)
        n_appearance = fs.blendshapes.shape[1] - N_BLENDSHAPES
        point_mirror, blend_mirror = mirror_map(mean), blendshape_mirror_map(fs.blendshapes.shape[1])
        train = (fs.with_view_rows(self.train_idx, point_mirror, blend_mirror) if cfg.views
                 else fs.subset(self.train_idx))
        mean = train.points.mean(0)
        # one spread per axis (per-point spreads were tried: they amplify the noise of nearly rigid points)
        axis_scale = np.sqrt(((train.points - mean) ** 2).mean((0, 1)))
        scale = np.broadcast_to(axis_scale, mean.shape).copy()
        reference = bool(train.has_ref.mean() >= 0.5) if cfg.reference == "auto" else cfg.reference
        self.augment = (replace(cfg.augment, identity_swap=cfg.reference_identity_swap)
                        if reference and cfg.reference_identity_swap is not None else cfg.augment)
        over = {"shape_token": cfg.shape_token, "dropout": cfg.dropout, "appearance": n_appearance,
                **({"wide": cfg.wide} if cfg.wide else {}),
                **({} if reference is None else {"reference": reference})}
        self.model = ExpressionTransformer(Architecture.of_size(cfg.model_size, **over))
        ref_scale = None
        if train.has_ref.any():
            ref_axis = np.sqrt(((train.points[train.has_ref] - train.ref_points[train.has_ref]) ** 2).mean((0, 1)))
            ref_scale = np.broadcast_to(np.maximum(ref_axis, 1e-6), mean.shape).copy()
        self.model.set_geometry(mean, scale, point_mirror, blend_mirror, ref_scale)
        arrays = lambda f: tuple(torch.from_numpy(a) for a in (f.points, f.blendshapes, f.ref_points,  # noqa: E731
                                                                f.ref_blend, f.has_ref, f.labels))
        self.tensors = {"train": arrays(train), "val": arrays(fs.subset(self.val_idx)),
                        "test": arrays(fs.subset(self.test_idx))}
        # the judged parts' mirror views: (positions in the part, view inputs), averaged in at judging
        self.views = {}
        for name in ("val", "test"):
            part = fs.subset(getattr(self, f"{name}_idx"))
            has = np.flatnonzero(part.has_view) if cfg.views else np.zeros(0, dtype=np.int64)
            seen = part.with_view_rows(has, point_mirror, blend_mirror).subset(np.arange(len(has), 2 * len(has)))
            self.views[name] = (torch.from_numpy(has), arrays(seen)[:5])
        self.model.fit_standardisation(*self.tensors["train"][:5])
        targets = train.targets if cfg.soft_labels else np.eye(len(CLASSES), dtype=np.float32)[train.labels]
        self.train_targets = torch.from_numpy(np.ascontiguousarray(targets))
        weights, class_weight = sample_weights(train.labels, train.subjects, cfg.subject_cap, cfg.balance,
                                               train.datasets, cfg.dataset_balance, cfg.class_balance)
        self.sample_weights = torch.from_numpy(weights)
        self.identity = torch.from_numpy(identity_offsets(train.points, train.labels, train.subjects))
        # face shapes are lent only by persons seen more than once; anyone may receive one
        known = torch.nonzero(self.identity.abs().sum((1, 2)) > 0).flatten()
        self.donors = known if len(known) else torch.arange(len(train))
        self.loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(class_weight, dtype=torch.float32),
                                                 label_smoothing=cfg.label_smoothing)
        self.steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
        decay = [p for n, p in self.model.named_parameters() if p.ndim >= 2 and "position" not in n]
        other = [p for n, p in self.model.named_parameters() if not (p.ndim >= 2 and "position" not in n)]
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                            {"params": other, "weight_decay": 0.0}], lr=cfg.lr)
        self.split_id = _fingerprint(fs.subjects[self.train_idx], fs.subjects[self.val_idx], fs.subjects[self.test_idx])
        # Validation holds few persons, so single epochs' weights score noisily; an average of recent weights
        # is both better and steadier to select among.
        self.scored = copy.deepcopy(self.model) if cfg.ema > 0 else self.model
        self.state = {"epoch": 0, "step": 0, "best_f1": -1.0, "best_epoch": 0, "history": [], "done": False}
        self.best_state = None

    # ------------------------------------------------------------ state on disk

    def _save_resume(self) -> None:
        from safetensors.torch import save_file

        resume = self.out / "resume"
        resume.mkdir(parents=True, exist_ok=True)
        tensors = {f"model.{k}": v.contiguous() for k, v in self.model.state_dict().items()}
        if self.scored is not self.model:
            tensors.update({f"ema.{k}": v.contiguous() for k, v in self.scored.state_dict().items()})
        tensors.update({f"best.{k}": v.contiguous() for k, v in (self.best_state or {}).items()})
        for i, st in self.optimizer.state_dict()["state"].items():
            tensors[f"opt.{i}.exp_avg"] = st["exp_avg"].contiguous()
            tensors[f"opt.{i}.exp_avg_sq"] = st["exp_avg_sq"].contiguous()
        save_file(tensors, str(resume / "state.safetensors.tmp"))
        (resume / "state.safetensors.tmp").replace(resume / "state.safetensors")
        meta = {**self.state, "split": self.split_id, "config": _config_json(self.cfg)}
        (resume / "state.json.tmp").write_text(json.dumps(meta))
        (resume / "state.json.tmp").replace(resume / "state.json")

    def try_resume(self) -> bool:
        from safetensors.torch import load_file

        resume = self.out / "resume"
        if not (resume / "state.json").is_file():
            return False
        try:  # a torn or damaged file: json, safetensors and the reads each raise their own types
            meta = json.loads((resume / "state.json").read_text())
            tensors = load_file(str(resume / "state.safetensors"))
            if not isinstance(meta, dict) or set(self.state) - set(meta):
                raise ValueError("keys missing")
        except Exception as exc:  # noqa: BLE001
            raise DatasetError(f"resume state {resume} is corrupt ({type(exc).__name__}): start again without "
                               "--resume or delete it") from None
        if meta.get("split") != self.split_id or meta.get("config", {}).get("model_size") != self.cfg.model_size:
            raise DatasetError(f"{resume} belongs to a different split or model: start again without --resume")
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        if self.scored is not self.model:
            self.scored.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
        best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
        self.best_state = best or None
        opt = self.optimizer.state_dict()
        opt["state"] = {
            i: {"step": self.torch.tensor(float(meta["step"])), "exp_avg": tensors[f"opt.{i}.exp_avg"],
                "exp_avg_sq": tensors[f"opt.{i}.exp_avg_sq"]}
            for i in range(sum(len(g["params"]) for g in opt["param_groups"])) if f"opt.{i}.exp_avg" in tensors
        }
        self.optimizer.load_state_dict(opt)
        self.state = {k: meta[k] for k in self.state}
        return True

    # ------------------------------------------------------------ loop

    def _probabilities(self, name: str):  # noqa: ANN202 - torch.Tensor
        """A part's probabilities as prediction makes them: each face with its mirror image, and with its
        mirror view where it has one."""
        return self._over_views(name, self.scored.probabilities)

    def _logits(self, name: str):  # noqa: ANN202 - torch.Tensor
        """The same average, of logits (what calibration fits a temperature and bias to)."""
        return self._over_views(name, self.scored.mirrored_logits)

    def _over_views(self, name: str, fn):  # noqa: ANN001, ANN202
        torch = self.torch
        *inputs, _ = self.tensors[name]
        self.scored.eval()
        with torch.inference_mode():
            out = self._batched(fn, inputs)
            positions, view_inputs = self.views.get(name, (torch.zeros(0, dtype=torch.int64), None))
            if len(positions):
                out[positions] = (out[positions] + self._batched(fn, view_inputs)) / 2
        return out

    def _batched(self, fn, inputs):  # noqa: ANN001, ANN202
        return self.torch.cat([fn(*(t[s:s + 1024] for t in inputs)) for s in range(0, len(inputs[0]), 1024)])

    def _evaluate(self, name: str) -> tuple[float, dict]:
        torch = self.torch
        labels = self.tensors[name][-1]
        probs = self._probabilities(name)
        logp = torch.log(probs.clamp_min(1e-12))
        loss = float(torch.nn.functional.nll_loss(logp, labels))
        y_true, y_pred = labels.numpy(), logp.argmax(1).numpy()
        metrics = classification_metrics(y_true, y_pred)
        metrics["ece"] = expected_calibration_error(probs.numpy(), y_true)
        idx = getattr(self, f"{name}_idx")
        sources = self.fs.datasets[idx].astype(str)
        by_source = {}
        for src in sorted(set(sources)):
            part = sources == src
            by_source[src] = classification_metrics(y_true[part], y_pred[part])
            images = self.images_of.get((src, name))
            if images:  # images of that dataset in this part, faces found or not: a missed face counts as wrong
                by_source[src].update(n_images=images, accuracy_all=float((y_true[part] == y_pred[part]).sum() / images))
        if len(by_source) > 1 or any("accuracy_all" in m for m in by_source.values()):
            metrics["by_source"] = by_source
        return loss, metrics

    def _calibrate(self) -> dict:
        """Temperature (and with calibrate=prior, the class prior) fitted on the validation part; the ECE of the
        validation and test parts before and after, so the model card can say whether it helped."""
        torch, mode = self.torch, self.cfg.calibrate
        if mode == "none":
            return {"mode": "none"}
        before = {name: self._evaluate(name)[1] for name in ("val", "test") if len(getattr(self, f"{name}_idx"))}
        labels = self.tensors["val"][-1]
        logits = self._logits("val")
        temperature, bias = fit_temperature_and_bias(logits.numpy(), labels.numpy(), bias=mode == "prior")
        self.scored.temperature.fill_(temperature)
        self.scored.logit_bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        after = {name: self._evaluate(name)[1] for name in before}
        return {"mode": mode, "temperature": temperature, "logit_bias": [round(float(v), 4) for v in bias],
                **{f"{name}_ece": {"before": before[name]["ece"], "after": after[name]["ece"]} for name in before},
                **{f"{name}_accuracy": {"before": before[name]["accuracy"], "after": after[name]["accuracy"]}
                   for name in before},
                **{f"{name}_macro_f1": {"before": before[name]["macro_f1"], "after": after[name]["macro_f1"]}
                   for name in before}}

    def _train_epoch(self, epoch: int) -> tuple[float, float]:
        torch, cfg, m = self.torch, self.cfg, self.model
        g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        points, blend, ref_points, ref_blend, has_ref, labels = self.tensors["train"]
        order = torch.multinomial(self.sample_weights, len(labels), replacement=True, generator=g)
        total_steps = self.steps_per_epoch * cfg.epochs
        warmup = self.steps_per_epoch * cfg.warmup_epochs
        m.train()
        loss_sum = correct = seen = 0.0
        for s in range(0, len(order), cfg.batch_size):
            if self.stop is not None and self.stop.is_set():
                raise _Stopped
            idx = order[s:s + cfg.batch_size]
            p, r = points[idx], ref_points[idx]
            aug = self.augment
            if aug.identity_swap > 0:  # same expression, someone else's face shape (and reference)
                swap = (torch.rand(len(idx), generator=g) < aug.identity_swap).float()[:, None, None]
                donors = self.donors[torch.randint(len(self.donors), (len(idx),), generator=g)]
                offset = swap * (self.identity[donors] - self.identity[idx])
                p, r = p + offset, r + offset
            known = has_ref[idx] & (torch.rand(len(idx), generator=g) >= aug.reference_drop)
            p, b, r, rb = augment_batch_for(m, p, blend[idx], r, ref_blend[idx], aug, g)
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.lr * _lr_factor(self.state["step"], warmup, total_steps)
            logits = m(p, b, r, rb, known)
            loss = self.loss_fn(logits, self.train_targets[idx])
            if not torch.isfinite(loss):
                raise DatasetError(f"training diverged: the loss is not finite in epoch {epoch} "
                                   f"(too few faces, or a learning rate of {cfg.lr:g} too high); no model saved")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            self.optimizer.step()
            self.state["step"] += 1
            if self.scored is not m:
                self._average()
            loss_sum += loss.item() * len(idx)
            correct += float((logits.argmax(1) == labels[idx]).sum())
            seen += len(idx)
        return loss_sum / seen, correct / seen

    def _average(self) -> None:
        step = self.state["step"]
        decay = min(self.cfg.ema, (1 + step) / (10 + step))  # short memory at first, when early weights are poor
        with self.torch.no_grad():
            for avg, cur in zip(self.scored.parameters(), self.model.parameters()):
                avg.lerp_(cur, 1.0 - decay)

    def run(self, resume: bool) -> tuple[dict, bool]:
        """Train to the end, to early stopping or to a stop; returns (final metrics, cancelled)."""
        torch, cfg = self.torch, self.cfg
        if resume:
            self.try_resume()
        cancelled = False
        try:
            while not self.state["done"] and self.state["epoch"] < cfg.epochs:
                epoch = self.state["epoch"] + 1
                started = time.perf_counter()
                train_loss, train_acc = self._train_epoch(epoch)
                val_loss, val = self._evaluate("val")
                self.state["epoch"] = epoch
                best = val["macro_f1"] > self.state["best_f1"]
                if best:
                    self.state["best_f1"], self.state["best_epoch"] = val["macro_f1"], epoch
                    self.best_state = {k: v.detach().clone() for k, v in self.scored.state_dict().items()}
                    self._save_model({"validation": _short(val)}, complete=False)
                if epoch - self.state["best_epoch"] >= cfg.patience:
                    self.state["done"] = True
                event = EpochMetrics(
                    epoch=epoch, epochs=cfg.epochs, train_loss=train_loss, train_accuracy=train_acc,
                    val_loss=val_loss, val_accuracy=val["accuracy"], val_macro_f1=val["macro_f1"],
                    learning_rate=self.optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - started,
                    fold=self.fold, best=best,
                )
                self.state["history"].append({k: getattr(event, k) for k in event.__slots__})
                self._save_resume()
                self.on_event(event)
        except (_Stopped, KeyboardInterrupt):
            cancelled = True
        if self.best_state is None:
            return {}, True
        self.scored.load_state_dict(self.best_state)
        calibration = self._calibrate()
        _, val = self._evaluate("val")
        metrics = {"validation": _short(val), "calibration": calibration}
        self.validation = val  # the full metrics, for a run without a test part
        if len(self.test_idx):
            _, test = self._evaluate("test")
            metrics["test"] = test
        self._save_model(metrics, complete=not cancelled)
        if not cancelled:
            shutil.rmtree(self.out / "resume", ignore_errors=True)
        del torch
        return metrics, cancelled

    def _save_model(self, metrics: dict, complete: bool) -> None:
        from .checkpoint import save_checkpoint
        from .model_card import write_card

        model = self.scored
        if self.best_state is not None and not complete:
            # the current weights may be past the best epoch; save the best without disturbing training
            from .model import ExpressionTransformer

            model = ExpressionTransformer(self.model.arch)
            model.load_state_dict(self.best_state)
        fs = self.fs
        full = save_checkpoint(model, self.out, {
            "complete": complete,
            "metrics": metrics,
            "normalisation": {"points": "(points - mean_points) / point_scale, both (478 x 3) buffers in the weights, "
                                        "the training set's mean face and per-coordinate spread",
                              "median_point_scale": round(float(model.point_scale.median()), 6)},
            "training": {
                "data": fs.sources,
                "split": {"kind": "subject-disjoint", "id": self.split_id, "fold": self.fold,
                          "train": _part(fs, self.train_idx), "validation": _part(fs, self.val_idx),
                          "test": _part(fs, self.test_idx)},
                "config": _config_json(self.cfg),
                "augment_used": asdict(self.augment),  # config's, with identity swap as the reference decided
                "best_epoch": self.state["best_epoch"],
                "epochs_run": self.state["epoch"],
                "history": self.state["history"],
            },
        })
        write_card(self.out, full)


def augment_batch_for(model, points, blend, ref_points, ref_blend, aug: Augment, generator):  # noqa: ANN001, ANN201
    """The same random mirror, rotation and scale for each face and its reference (they are one person), by
    augmenting them side by side as one face of twice the points."""
    import torch

    from ..data.features import augment_batch

    n_p, n_b = points.shape[1], blend.shape[1]
    p, b = augment_batch(torch.cat([points, ref_points], 1), torch.cat([blend, ref_blend], 1),
                         model.mean_points.repeat(2, 1), torch.cat([model.point_mirror, model.point_mirror + n_p]),
                         torch.cat([model.blend_mirror, model.blend_mirror + n_b]), aug, generator)
    return p[:, :n_p], b[:, :n_b], p[:, n_p:], b[:, n_b:]


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


def _part(fs: FeatureSet, idx: np.ndarray) -> dict:
    persons, no_id = persons_in(fs.subjects[idx], fs.paths[idx])
    return {"faces": int(len(idx)), "subjects": persons, "no_person_id": no_id,
            "per_class": dict(zip(CLASSES, np.bincount(fs.labels[idx], minlength=len(CLASSES)).tolist()))}


def _config_json(cfg: TrainConfig) -> dict:
    return {**asdict(cfg), "augment": asdict(cfg.augment)}


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
    train_files, test_files = [Path(f) for f in features], [Path(f) for f in test_on or []]
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
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails now, not after the last epoch
    torch.manual_seed(seed)
    if not folds:
        rest = np.flatnonzero(~held)
        if len(rest) == 0:
            raise DatasetError("no faces left to train on: every row is held out for testing")
        tr, va, te = subject_split(fs.labels[rest], fs.subjects[rest], test_fraction=test_fraction,
                                   val_fraction=val_fraction, seed=seed)
        parts = (rest[tr], rest[va], np.sort(np.concatenate([rest[te], np.flatnonzero(held)])))
        run = _Run(fs, parts, out, cfg, None, on_event, stop, images_of)
        metrics, cancelled = run.run(resume)
        if metrics.get("test"):
            final = {**metrics["test"], "evaluated_on": "test"}
        else:  # no test part: the validation part's figures, labelled as such (the dashboard shows them)
            final = {**getattr(run, "validation", {}), "evaluated_on": "validation",
                     "note": "validation metrics (no test part)"}
        if "n" in final:  # what the figures were measured on, and how much of it (the dashboard and CLI say so)
            idx = run.test_idx if final["evaluated_on"] == "test" else run.val_idx
            final["measured_on"] = _measured_on(final["evaluated_on"], final["n"], fs, idx)
        if metrics.get("calibration"):
            final["calibration"] = metrics["calibration"]
        on_event(Finished(stage="train", summary=final, cancelled=cancelled))
        return TrainResult(out=out, metrics=final, cancelled=cancelled)

    if held.any():  # folds judge the dataset on itself; its held-out rows stay out of every fold's training
        fs = fs.subset(np.flatnonzero(~held))
    results, cancelled, tested = [], False, []
    for k, test_idx in enumerate(subject_folds(fs.labels, fs.subjects, folds, seed=seed), start=1):
        rest = np.setdiff1d(np.arange(len(fs)), test_idx)
        rest_val = val_fraction / max(1e-9, 1 - 1 / folds)
        train_r, val_r, _ = subject_split(fs.labels[rest], fs.subjects[rest], test_fraction=0.0,
                                          val_fraction=rest_val, seed=seed + k)
        fold_dir = out / f"fold-{k}"
        done = _completed_fold(fold_dir)
        if resume and done is not None:
            results.append(done)
            tested.append(test_idx)
            continue
        metrics, cancelled = _Run(fs, (rest[train_r], rest[val_r], test_idx), fold_dir, cfg, k, on_event, stop).run(resume)
        if cancelled:
            break
        results.append({**metrics["test"], "fold": k})
        tested.append(test_idx)
    summary: dict = {}
    if results:
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
        summary["measured_on"] = pooled["measured_on"] = _measured_on("test (pooled over folds)", pooled["n"], fs,
                                                                      np.concatenate(tested))
        out.mkdir(parents=True, exist_ok=True)
        (out / "cv.json").write_text(json.dumps(summary, indent=2) + "\n")
    on_event(Finished(stage="train", summary=summary, cancelled=cancelled))
    return TrainResult(out=out, metrics=pooled if results else {}, folds=results,
                       mean=summary.get("mean"), std=summary.get("std"), cancelled=cancelled)


def _completed_fold(fold_dir: Path) -> dict | None:
    path = fold_dir / "config.json"
    if not path.is_file():
        return None
    config = json.loads(path.read_text())
    test = config.get("metrics", {}).get("test")
    if config.get("complete") and test:
        return {**test, "fold": config["training"]["split"]["fold"]}
    return None
