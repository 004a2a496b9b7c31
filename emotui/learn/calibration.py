"""Fitting a model's output to held-out faces: a temperature for honest confidences and a logit bias for the
class prior, and the expected calibration error that says whether they helped. Torch, CPU, a few ms."""

from __future__ import annotations

import numpy as np


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """The gap between confidence and accuracy, averaged over equal-width confidence bins by their share of faces."""
    probs = np.asarray(probs, dtype=np.float64)
    if len(probs) == 0:
        return 0.0
    confidence = probs.max(1)
    correct = probs.argmax(1) == np.asarray(labels)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            gap += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(gap)


def fit_temperature_and_bias(logits: np.ndarray, labels: np.ndarray, *, bias: bool = True,
                             steps: int = 200) -> tuple[float, np.ndarray]:
    """Temperature T and per-class bias b minimising the negative log-likelihood of softmax((logits + b) / T) on
    held-out faces. The bias moves the model's prior to the class mix of those faces (logit adjustment); with
    `bias=False` only T is fitted. Classes absent from the faces keep a bias of zero."""
    import torch

    z = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    n_classes = z.shape[1]
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=bias)
    present = torch.bincount(y, minlength=n_classes) > 0
    params = [log_t] + ([b] if bias else [])
    optimizer = torch.optim.LBFGS(params, lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():  # noqa: ANN202
        optimizer.zero_grad()
        shifted = z + torch.where(present, b, torch.zeros_like(b))
        loss = torch.nn.functional.cross_entropy(shifted / log_t.exp(), y) + 1e-3 * (b**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    t = float(log_t.detach().exp().clamp(0.05, 20.0))
    out_b = torch.where(present, b, torch.zeros_like(b)).detach().numpy()
    if not np.isfinite(t) or not np.isfinite(out_b).all():
        return 1.0, np.zeros(n_classes)
    return t, out_b
