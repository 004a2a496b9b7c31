"""The transformer against a logistic regression on the same features and subject-grouped folds; predict latency
per face at batch 1 on one core; seconds per training epoch. One run; ratios against baselines measured here.

    python benchmarks/bench_model.py FEATURES.parquet [...] [--folds 5] [--epochs 60]

Each features file is cross-validated on its own (the folds of `emotui train FILE --folds K --seed 0`).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def regression_inputs(fs, idx: np.ndarray, mean: np.ndarray, reference: bool = True) -> np.ndarray:  # noqa: ANN001
    """The transformer's inputs as one row per face: landmarks minus `mean`, blendshapes, both relative to the
    person's reference (zero without one) and the reference flag. Without `reference`: the face's own features
    only, as in the features file."""
    own = [(fs.points[idx] - mean).reshape(len(idx), -1), fs.blendshapes[idx]]
    if not reference:
        return np.hstack(own)
    known = fs.has_ref[idx].astype(np.float32)
    delta = (fs.points[idx] - fs.ref_points[idx]) * known[:, None, None]
    return np.hstack([*own, delta.reshape(len(idx), -1), (fs.blendshapes[idx] - fs.ref_blend[idx]) * known[:, None],
                      known[:, None]])


def logistic_regression_cv(fs, folds: list[np.ndarray], reference: bool = True) -> tuple[list[dict], float]:  # noqa: ANN001
    """regression_inputs flattened and standardised, class-balanced: with `reference`, all the transformer's
    inputs; without, each face's own features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from emotui.learn.evaluation import classification_metrics

    results, fit_seconds = [], 0.0
    for test in folds:
        train = np.setdiff1d(np.arange(len(fs)), test)
        mean = fs.points[train].mean(0)
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000, class_weight="balanced"))
        started = time.perf_counter()
        clf.fit(regression_inputs(fs, train, mean, reference), fs.labels[train])
        fit_seconds += time.perf_counter() - started
        results.append(classification_metrics(fs.labels[test], clf.predict(regression_inputs(fs, test, mean, reference))))
    return results, fit_seconds / len(folds)


def _mean_std(results: list[dict], key: str) -> tuple[float, float]:
    values = np.array([r[key] for r in results])
    return float(values.mean()), float(values.std())


def latency(model_dir: Path, fs, repeats: int = 300) -> dict[str, tuple[float, float]]:  # noqa: ANN001
    """(wall ms, CPU ms) per face at batch 1 on one core: the predictor (model + mirror averaging), the bare
    model, and a logistic regression's predict_proba on the same face as the baseline. CPU time is what the
    face costs; wall time also counts waiting for a core on a shared machine."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from emotui.learn.predictor import Predictor

    torch.set_num_threads(1)
    predictor = Predictor.load(model_dir)
    points, blend = fs.points[:1], fs.blendshapes[:1]
    refs = (fs.ref_points[:1], fs.ref_blend[:1], np.ones(1, dtype=bool))  # the monitor's case once calibrated

    def timed(fn) -> tuple[float, float]:  # noqa: ANN001
        for _ in range(20):
            fn()
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(repeats):
            fn()
        return ((time.perf_counter() - started) / repeats * 1000, (time.process_time() - cpu) / repeats * 1000)

    inputs = [torch.from_numpy(a) for a in (points, blend, *refs)]
    with torch.inference_mode():
        bare = timed(lambda: predictor.model(*inputs))
    full = timed(lambda: predictor.predict_arrays(points, blend, *refs))
    x = regression_inputs(fs, np.arange(len(fs)), fs.points.mean(0))
    clf = LogisticRegression(max_iter=2000).fit(x[:400], fs.labels[:400])
    baseline = timed(lambda: clf.predict_proba(x[:1]))
    return {"predictor": full, "model": bare, "logistic regression": baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", nargs="+", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--model-size", default="small")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()

    from emotui.events import EpochMetrics
    from emotui.data.features import load_features
    from emotui.learn.splits import subject_folds
    from emotui.learn.training import run_training

    work = Path(tempfile.mkdtemp(prefix="emotui-bench-"))
    for path in args.features:
        fs = load_features([path])
        folds = subject_folds(fs.labels, fs.subjects, args.folds, seed=0)
        lr_results, lr_fit = logistic_regression_cv(fs, folds)
        lr_own, _ = logistic_regression_cv(fs, folds, reference=False)
        epochs: list[EpochMetrics] = []
        started = time.perf_counter()
        result = run_training([path], work / path.stem, epochs=args.epochs, folds=args.folds, seed=0,
                              model_size=args.model_size, batch_size=args.batch_size, lr=args.lr, on_event=lambda e: epochs.append(e) if isinstance(e, EpochMetrics) else None)
        wall = time.perf_counter() - started
        print(f"== {path.stem}: {len(fs)} faces, {len(set(fs.subjects))} subjects, {args.folds} subject-grouped folds; "
              f"transformer {args.model_size}, up to {args.epochs} epochs, batch {args.batch_size}, lr {args.lr}")
        for key in ("accuracy", "macro_f1"):
            t_mean, t_std = _mean_std(result.folds, key)
            print(f"  {key:9s} transformer {t_mean:.3f} ± {t_std:.3f}")
            for name, lr in (("on the same inputs", lr_results), ("on each face's own features", lr_own)):
                l_mean, l_std = _mean_std(lr, key)
                print(f"  {'':9s} logistic regression {name:28s} {l_mean:.3f} ± {l_std:.3f}   transformer "
                      f"{100 * (t_mean - l_mean):+.1f} points, ratio {t_mean / l_mean:.3f}")
        epoch_s = float(np.mean([e.seconds for e in epochs]))
        print(f"  training: {epoch_s:.2f} s per epoch (mean of {len(epochs)}), {wall:.0f} s for all folds; "
              f"logistic regression fit {lr_fit:.2f} s per fold; epoch / LR fit = {epoch_s / lr_fit:.2f}")
        times = latency(work / path.stem / "fold-1", fs)
        base_cpu = times["logistic regression"][1]
        for name, (wall, cpu) in times.items():
            print(f"  predict latency, batch 1, one core, {name:19s}: {wall:.3f} ms wall, {cpu:.3f} ms CPU "
                  f"(CPU ratio to logistic regression {cpu / base_cpu:.1f}x)")
        print(f"  budget 2 ms per face (CPU): {'OK' if times['predictor'][1] <= 2 else 'OVER'}")


if __name__ == "__main__":
    main()
