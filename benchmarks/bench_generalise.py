"""Generalisation: train with one dataset left out and test on it, for each dataset; and FER+'s own validation
part when trained on everything else plus FER+ train. The logistic-regression baseline (each face's own features,
class-balanced, the same training rows) is fitted in the same run, so ratios compare like with like.

    python benchmarks/bench_generalise.py CK.parquet MUX.parquet FERPLUS.parquet [--epochs 12] [--jobs 2]
        [--model-size mlp] [--set key=value ...] [--json OUT]

A face MediaPipe misses counts as wrong ("accuracy, all images"); the same protocol is `emotui train A B
--test-on C`. `--set` overrides TrainConfig fields (e.g. --set dataset_balance=0 --set soft_labels=false).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from emotui.learn.recipes import DEFAULT_MODEL_SIZE


def protocols(files: list[Path]) -> list[tuple[str, list[Path], list[Path]]]:
    """(name, train files, test-on files): each file left out in turn, then all of them (FER+ valid is held out
    by its own split column)."""
    out = [(f"left out: {f.stem}", [g for g in files if g != f], [f]) for f in files]
    out.append(("all (held-out splits)", files, []))
    return out


def _config(overrides: list[str], epochs: int, size: str):  # noqa: ANN202
    from emotui.learn.training import config_for

    cfg = config_for(size, epochs=epochs)
    for item in overrides:  # key=value, or augment.key=value
        key, _, value = item.partition("=")
        owner, _, field = key.rpartition(".")
        target = cfg.augment if owner == "augment" else cfg
        current = getattr(target, field)
        flag = isinstance(current, bool) or (current is None and value.lower() in ("true", "false"))
        parsed = value.lower() in ("1", "true", "yes") if flag else type(current)(value)
        if owner == "augment":
            cfg = replace(cfg, augment=replace(cfg.augment, **{field: parsed}))
        else:
            cfg = replace(cfg, **{field: parsed})
    return cfg


def run_protocol(name: str, train: list[Path], test_on: list[Path], epochs: int, size: str, overrides: list[str],
                 out_root: str) -> dict:
    from emotui.learn.training import run_training

    cfg = _config(overrides, epochs, size)
    out = Path(out_root) / name.replace(" ", "_").replace(":", "").replace("(", "").replace(")", "")
    result = run_training(train, out, config=cfg, epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                          model_size=size, test_fraction=0.0, test_on=test_on, seed=cfg.seed)
    return {"name": name, "by_source": result.metrics.get("by_source", {}),
            "calibration": result.metrics.get("calibration"), "baseline": baseline(train, test_on)}


def baseline(train: list[Path], test_on: list[Path]) -> dict:
    """Class-balanced logistic regression on each face's own features (pose-free landmarks + blendshapes)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from emotui.learn.evaluation import classification_metrics
    from emotui.data.features import load_features

    fs = load_features(train + test_on).without_appearance()  # the baseline of the issue: mesh and blendshapes
    test_names = {p.stem for p in test_on}
    held = fs.held_out | np.isin(fs.datasets.astype(str), list(test_names))
    x = np.hstack([fs.points.reshape(len(fs), -1), fs.blendshapes])
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=500, class_weight="balanced"))
    clf.fit(x[~held], fs.labels[~held])
    out = {}
    for src in fs.sources:
        part = held & (fs.datasets == src["name"])
        if not part.any():
            continue
        m = classification_metrics(fs.labels[part], clf.predict(x[part]))
        images = src["labelled_images"] if src["name"] in test_names else src.get("held_out_images", int(part.sum()))
        out[src["name"]] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                            "accuracy_all": float(np.trace(np.array(m["confusion_matrix"])) / images)}
    return out


def evaluate_kept(keep: Path, features: list[Path]) -> None:
    """Each kept protocol model judged again on its left-out file (which may be a newer extraction of the same
    images), with the class prior fitted on validation and without it (logit bias zeroed)."""
    from emotui.learn.evaluation import evaluate
    from emotui.learn.predictor import Predictor

    print(f"{'model':<26} {'test data':<12} {'prior':<6} {'acc all':>8} {'acc':>6} {'F1':>6} {'found':>6}  recall per class")
    for f in features:
        model_dir = keep / f"left_out_{f.stem}"
        if not model_dir.is_dir():
            model_dir = keep / "all_held-out_splits"
        predictor = Predictor.load(model_dir)
        fitted = predictor.model.logit_bias.clone()
        for prior in (1.0, 0.5, 0.0):
            predictor.model.logit_bias.copy_(fitted * prior)
            m = evaluate(f, predictor=predictor)
            if model_dir.name.startswith("all"):  # trained on this file: only its held-out rows are honest
                continue
            recall = " ".join(f"{c[:3]} {v['recall']:.2f}" for c, v in m["per_class"].items() if v["support"])
            print(f"{model_dir.name:<26} {f.stem:<12} {prior:<6g} {m['accuracy_all']:>8.3f} "
                  f"{m['accuracy']:>6.3f} {m['macro_f1']:>6.3f} {m['n_faces'] / m['n_images']:>6.3f}  {recall}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", nargs="+", type=Path)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--model-size", default=DEFAULT_MODEL_SIZE)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--only", action="append", default=[], help="run only protocols whose name has this")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="keep each protocol's model under this folder")
    parser.add_argument("--evaluate-kept", type=Path, help="only judge the models kept in this folder again")
    args = parser.parse_args()
    if args.evaluate_kept:
        evaluate_kept(args.evaluate_kept, args.features)
        return
    todo = [p for p in protocols(args.features) if not args.only or any(o in p[0] for o in args.only)]
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(args.jobs) as pool:
        root = str(args.keep) if args.keep else tmp
        futures = [pool.submit(run_protocol, name, train, test, args.epochs, args.model_size, args.overrides, root)
                   for name, train, test in todo]
        results = [f.result() for f in futures]
    print(f"epochs {args.epochs}, size {args.model_size}, overrides {args.overrides or 'none'}")
    print(f"{'protocol':<26} {'test data':<12} {'acc all':>8} {'acc':>6} {'F1':>6} {'LR acc all':>10} {'LR F1':>6}"
          f" {'ratio acc':>9}  recall per class")
    for r in results:
        for src, m in r["by_source"].items():
            base = r["baseline"].get(src, {})
            acc_all = m.get("accuracy_all", m["accuracy"])
            recall = " ".join(f"{c[:3]} {v['recall']:.2f}" for c, v in m["per_class"].items() if v["support"])
            ratio = acc_all / base["accuracy_all"] if base.get("accuracy_all") else float("nan")
            print(f"{r['name']:<26} {src:<12} {acc_all:>8.3f} {m['accuracy']:>6.3f} {m['macro_f1']:>6.3f} "
                  f"{base.get('accuracy_all', float('nan')):>10.3f} {base.get('macro_f1', float('nan')):>6.3f} "
                  f"{ratio:>9.3f}  {recall}")
        cal = r.get("calibration") or {}
        if "test_ece" in cal:
            print(f"{'':<26} calibration {cal['mode']}: T {cal.get('temperature', 1):.2f}, test ECE "
                  f"{cal['test_ece']['before']:.3f} -> {cal['test_ece']['after']:.3f}, test acc "
                  f"{cal['test_accuracy']['before']:.3f} -> {cal['test_accuracy']['after']:.3f}, F1 "
                  f"{cal['test_macro_f1']['before']:.3f} -> {cal['test_macro_f1']['after']:.3f}")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"features": [str(f) for f in args.features],
                                                                "json": str(args.json)}, "results": results},
                                        indent=1, default=str))


if __name__ == "__main__":
    main()
