"""A ceiling probe, not a product model: a plain two-layer MLP on each face's own features (pose-removed landmarks
+ blendshapes, each input standardised), soft labels, the data's own class mix, mirror copies and input noise, no
other augmentation. Judged on the held-out rows (FER+ valid) beside a logistic regression on the same inputs, so
the transformer's figures on the same rows can be read against what these inputs allow.

    python benchmarks/probe_mlp.py FERPLUS.parquet [MORE.parquet ...] [--hidden 512] [--epochs 40]

Recorded in models/default/NOTES.md: ferplus train alone, hidden 512, 40 epochs: 0.785 of the FER+ valid faces
found, macro-F1 0.628 (hidden 1024, 60 epochs: 0.790 / 0.649).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def inputs(fs, mean: np.ndarray, mirrored: bool) -> np.ndarray:  # noqa: ANN001 - FeatureSet
    from emotui.data.features import blendshape_mirror_map, mirror_map

    points, blend = fs.points, fs.blendshapes
    if mirrored:
        points = points[:, mirror_map(mean)] * np.array([-1, 1, 1], np.float32)
        blend = blend[:, blendshape_mirror_map(blend.shape[1])]
    return np.hstack([(points - mean).reshape(len(points), -1), blend]).astype(np.float32)


def train_mlp(x: np.ndarray, targets: np.ndarray, hidden: int, epochs: int, noise: float = 0.1, seed: int = 0):  # noqa: ANN201
    import torch
    from torch import nn

    torch.manual_seed(seed)
    net = nn.Sequential(nn.Dropout(0.1), nn.Linear(x.shape[1], hidden), nn.GELU(), nn.Dropout(0.3),
                        nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(0.3), nn.Linear(hidden, targets.shape[1]))
    xt, tt = torch.from_numpy(x), torch.from_numpy(targets)
    batches = len(xt) // 256
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 1e-3, total_steps=epochs * batches)
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(xt))
        for i in range(batches):
            idx = perm[i * 256:(i + 1) * 256]
            logp = torch.log_softmax(net(xt[idx] + noise * torch.randn(len(idx), xt.shape[1])), 1)
            loss = -(tt[idx] * logp).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return net.eval()


def main() -> None:
    import torch
    from sklearn.linear_model import LogisticRegression

    from emotui.learn.evaluation import classification_metrics
    from emotui.data.features import load_features

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", nargs="+", type=Path)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    fs = load_features(args.features)
    train, test = ~fs.held_out, fs.held_out
    if not test.any():
        raise SystemExit("no held-out rows (a split column with valid/test) in these files")
    mean = fs.points[train].mean(0)
    x, xm = inputs(fs, mean, False), inputs(fs, mean, True)
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
    x, xm = (x - mu) / sd, (xm - mu) / sd
    net = train_mlp(np.concatenate([x[train], xm[train]]), np.concatenate([fs.targets[train]] * 2),
                    args.hidden, args.epochs)
    with torch.inference_mode():
        probs = sum(torch.softmax(net(torch.from_numpy(a[test])), 1) for a in (x, xm))
    lr = LogisticRegression(C=0.05, max_iter=1000).fit(x[train], fs.labels[train])
    for name, pred in (("MLP", probs.argmax(1).numpy()), ("logistic regression", lr.predict(x[test]))):
        m = classification_metrics(fs.labels[test], pred)
        print(f"{name:<20} held-out faces found {int(test.sum())}: accuracy {m['accuracy']:.3f}, "
              f"macro-F1 {m['macro_f1']:.3f}")


if __name__ == "__main__":
    main()
