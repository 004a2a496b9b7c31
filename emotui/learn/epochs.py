"""The gradient steps of one training epoch: balanced sampling, identity swaps and augmentation, AdamW with
warm-up and cosine decay, and the weight average that is validated and kept."""

from __future__ import annotations

import math
import threading

from ..data.features import Augment
from ..errors import DatasetError
from .train_config import TrainConfig
from .training_data import TrainingData


class Stopped(Exception):
    """The caller's stop event was set between two batches."""


def lr_factor(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


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


class EpochTrainer:
    """Trains `model` on `data`'s training faces and keeps `scored` (its weight average, or `model` itself)
    following it. The optimizer is made here; resuming loads its moments in place."""

    def __init__(self, model, scored, data: TrainingData, cfg: TrainConfig) -> None:  # noqa: ANN001
        import torch

        self.model, self.scored, self.data, self.cfg = model, scored, data, cfg
        self.loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(data.class_weight, dtype=torch.float32),
                                                 label_smoothing=cfg.label_smoothing)
        # no weight decay on biases, norms and the position embedding
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "position" not in n]
        other = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "position" not in n)]
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                            {"params": other, "weight_decay": 0.0}], lr=cfg.lr)

    def train_epoch(self, epoch: int, state: dict, stop: threading.Event | None) -> tuple[float, float]:
        """One pass of sampled batches; counts state["step"] up. Returns (mean loss, accuracy) on the batches."""
        import torch

        cfg, m = self.cfg, self.model
        g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)  # the same batches when an epoch is rerun
        labels = self.data.tensors["train"][-1]
        order = torch.multinomial(self.data.sample_weights, len(labels), replacement=True, generator=g)
        total_steps = self.data.steps_per_epoch * cfg.epochs
        warmup = self.data.steps_per_epoch * cfg.warmup_epochs
        m.train()
        loss_sum = correct = seen = 0.0
        for s in range(0, len(order), cfg.batch_size):
            if stop is not None and stop.is_set():
                raise Stopped
            idx = order[s:s + cfg.batch_size]
            inputs = self._batch(idx, g)
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.lr * lr_factor(state["step"], warmup, total_steps)
            logits = m(*inputs)
            loss = self.loss_fn(logits, self.data.targets[idx])
            if not torch.isfinite(loss):
                raise DatasetError(f"training diverged: the loss is not finite in epoch {epoch} "
                                   f"(too few faces, or a learning rate of {cfg.lr:g} too high); no model saved")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            self.optimizer.step()
            state["step"] += 1
            if self.scored is not m:
                self._average(state["step"])
            loss_sum += loss.item() * len(idx)
            correct += float((logits.argmax(1) == labels[idx]).sum())
            seen += len(idx)
        return loss_sum / seen, correct / seen

    def _batch(self, idx, g) -> tuple:  # noqa: ANN001 - torch index tensor, torch.Generator
        """The model's inputs for the training faces `idx`, augmented; the draws from `g` keep their order, so a
        seed gives the same run."""
        import torch

        aug, data = self.data.augment, self.data
        points, blend, ref_points, ref_blend, has_ref, _ = data.tensors["train"]
        p, r = points[idx], ref_points[idx]
        if aug.identity_swap > 0:  # same expression, someone else's face shape (and reference)
            swap = (torch.rand(len(idx), generator=g) < aug.identity_swap).float()[:, None, None]
            donors = data.donors[torch.randint(len(data.donors), (len(idx),), generator=g)]
            offset = swap * (data.identity[donors] - data.identity[idx])
            p, r = p + offset, r + offset
        known = has_ref[idx] & (torch.rand(len(idx), generator=g) >= aug.reference_drop)
        p, b, r, rb = augment_batch_for(self.model, p, blend[idx], r, ref_blend[idx], aug, g)
        return p, b, r, rb, known

    def _average(self, step: int) -> None:
        import torch

        decay = min(self.cfg.ema, (1 + step) / (10 + step))  # short memory at first, when early weights are poor
        with torch.no_grad():
            for avg, cur in zip(self.scored.parameters(), self.model.parameters()):
                avg.lerp_(cur, 1.0 - decay)
