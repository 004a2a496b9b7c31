"""What a training run keeps on disk: resume/ (the last epoch's weights, optimizer moments and progress, written
every epoch) and the best model so far with its config.json and model card (always loadable)."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..data.features import FeatureSet, persons_in
from ..errors import DatasetError
from ..labels import CLASSES
from .train_config import TrainConfig, config_json
from .training_data import TrainingData


class RunFiles:
    """The files of one run in `out`. `model` is trained, `scored` (its weight average, or itself) is validated
    and kept; both and the optimizer are changed in place, never replaced."""

    def __init__(self, out: Path, cfg: TrainConfig, data: TrainingData, fold: int | None,
                 model, scored, optimizer) -> None:  # noqa: ANN001 - ExpressionTransformer x2, torch.optim.AdamW
        self.out, self.cfg, self.data, self.fold = Path(out), cfg, data, fold
        self.model, self.scored, self.optimizer = model, scored, optimizer
        self.resume = self.out / "resume"

    def save_resume(self, state: dict, best_state: dict | None) -> None:
        from safetensors.torch import save_file

        self.resume.mkdir(parents=True, exist_ok=True)
        tensors = {f"model.{k}": v.contiguous() for k, v in self.model.state_dict().items()}
        if self.scored is not self.model:
            tensors.update({f"ema.{k}": v.contiguous() for k, v in self.scored.state_dict().items()})
        tensors.update({f"best.{k}": v.contiguous() for k, v in (best_state or {}).items()})
        for i, st in self.optimizer.state_dict()["state"].items():
            tensors[f"opt.{i}.exp_avg"] = st["exp_avg"].contiguous()
            tensors[f"opt.{i}.exp_avg_sq"] = st["exp_avg_sq"].contiguous()
        save_file(tensors, str(self.resume / "state.safetensors.tmp"))
        (self.resume / "state.safetensors.tmp").replace(self.resume / "state.safetensors")
        meta = {**state, "split": self.data.split_id, "config": config_json(self.cfg)}
        (self.resume / "state.json.tmp").write_text(json.dumps(meta))
        (self.resume / "state.json.tmp").replace(self.resume / "state.json")

    def load_resume(self, state: dict) -> tuple[dict, dict | None] | None:
        """The saved progress (the keys of `state`) and best weights, the rest loaded into the model, its average
        and the optimizer; None when there is no resume state."""
        import torch
        from safetensors.torch import load_file

        resume = self.resume
        if not (resume / "state.json").is_file():
            return None
        try:  # a torn or damaged file: json, safetensors and the reads each raise their own types
            meta = json.loads((resume / "state.json").read_text())
            tensors = load_file(str(resume / "state.safetensors"))
            if not isinstance(meta, dict) or set(state) - set(meta):
                raise ValueError("keys missing")
        except Exception as exc:  # noqa: BLE001
            raise DatasetError(f"resume state {resume} is corrupt ({type(exc).__name__}): start again without "
                               "--resume or delete it") from None
        if meta.get("split") != self.data.split_id or meta.get("config", {}).get("model_size") != self.cfg.model_size:
            raise DatasetError(f"{resume} belongs to a different split or model: start again without --resume")
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        if self.scored is not self.model:
            self.scored.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
        best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
        opt = self.optimizer.state_dict()
        opt["state"] = {
            i: {"step": torch.tensor(float(meta["step"])), "exp_avg": tensors[f"opt.{i}.exp_avg"],
                "exp_avg_sq": tensors[f"opt.{i}.exp_avg_sq"]}
            for i in range(sum(len(g["params"]) for g in opt["param_groups"])) if f"opt.{i}.exp_avg" in tensors
        }
        self.optimizer.load_state_dict(opt)
        return {k: meta[k] for k in state}, best or None

    def remove_resume(self) -> None:
        shutil.rmtree(self.resume, ignore_errors=True)

    def save_model(self, state: dict, best_state: dict | None, metrics: dict, complete: bool) -> None:
        """The best weights (the scored ones as they are, once `complete`) with config.json and the model card."""
        from .checkpoint import save_checkpoint
        from .model_card import write_card

        model = self.scored
        if best_state is not None and not complete:
            # the current weights may be past the best epoch; save the best without disturbing training
            from .model import ExpressionTransformer

            model = ExpressionTransformer(self.model.arch)
            model.load_state_dict(best_state)
        data, fs = self.data, self.data.fs
        full = save_checkpoint(model, self.out, {
            "complete": complete,
            "metrics": metrics,
            "normalisation": {"points": "(points - mean_points) / point_scale, both (478 x 3) buffers in the weights, "
                                        "the training set's mean face and per-coordinate spread",
                              "median_point_scale": round(float(model.point_scale.median()), 6)},
            "training": {
                "data": fs.sources,
                "split": {"kind": "subject-disjoint", "id": data.split_id, "fold": self.fold,
                          "train": _part(fs, data.train_idx), "validation": _part(fs, data.val_idx),
                          "test": _part(fs, data.test_idx)},
                "config": config_json(self.cfg),
                "augment_used": asdict(data.augment),  # config's, with identity swap as the reference decided
                "best_epoch": state["best_epoch"],
                "epochs_run": state["epoch"],
                "history": state["history"],
            },
        })
        write_card(self.out, full)


def completed_fold(fold_dir: Path) -> dict | None:
    """A fold's test metrics, if its run completed (what resuming cross-validation skips)."""
    path = fold_dir / "config.json"
    if not path.is_file():
        return None
    config = json.loads(path.read_text())
    test = config.get("metrics", {}).get("test")
    if config.get("complete") and test:
        return {**test, "fold": config["training"]["split"]["fold"]}
    return None


def _part(fs: FeatureSet, idx: np.ndarray) -> dict:
    persons, no_id = persons_in(fs.subjects[idx], fs.paths[idx])
    return {"faces": int(len(idx)), "subjects": persons, "no_person_id": no_id,
            "per_class": dict(zip(CLASSES, np.bincount(fs.labels[idx], minlength=len(CLASSES)).tolist()))}
