"""Generalisation: train with one dataset left out and test on it, for each dataset; and FER+'s own validation
part when trained on everything else plus FER+ train. The logistic-regression baseline (each face's own features,
class-balanced, the same training rows) is fitted in the same run, so ratios compare like with like.

    python benchmarks/bench_generalise.py CK.parquet MUX.parquet FERPLUS.parquet [--epochs 12] [--jobs 2]
        [--model-size mlp [--model-size transformer ...]] [--set key=value ...] [--json OUT]

Each size named runs every protocol, and the table shows them side by side. Beside accuracy: the share of the
left-out set's non-neutral faces called neutral (what a posed set loses to a model that plays safe), and "a look
where people look": the model trained on everything (the shipped default's protocol) watching
../shared/media/WolfgangLanger_Pexels.mp4 (a woman crying), frames 0-96, --smooth 0, as counts per label.

A face MediaPipe misses counts as wrong ("accuracy, all images"); the same protocol is `emotui train A B
--test-on C`. `--set` overrides TrainConfig fields (e.g. --set dataset_balance=0 --set soft_labels=false).
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from emotui.learn.recipes import DEFAULT_MODEL_SIZE


def renders_of(f: Path, g: Path) -> bool:
    """Whether features file g holds renderings of f's dataset (`emotui degrade`): `<dataset>-renders*.parquet`."""
    return g.stem.startswith(f"{f.stem}-renders")


def protocols(files: list[Path]) -> list[tuple[str, list[Path], list[Path]]]:
    """(name, train files, test-on files): each dataset left out in turn, with its renderings (the same faces,
    other cameras: training on them would see the test set), then all of them (FER+ valid is held out by its own
    split column)."""
    datasets = [f for f in files if not any(renders_of(g, f) for g in files)]
    out = [(f"left out: {f.stem}", [g for g in files if g != f and not renders_of(f, g)], [f]) for f in datasets]
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
        parsed = value.lower() in ("1", "true", "yes") if flag else _parsed(value, current)
        if owner == "augment":
            cfg = replace(cfg, augment=replace(cfg.augment, **{field: parsed}))
        else:
            cfg = replace(cfg, **{field: parsed})
    return cfg


def _parsed(value: str, current):  # noqa: ANN001, ANN202
    """A --set value as the field's type; a field that is None by default takes a number or the text."""
    if current is not None:
        return type(current)(value)
    try:
        return float(value)
    except ValueError:
        return value


def run_protocol(name: str, train: list[Path], test_on: list[Path], epochs: int, size: str, overrides: list[str],
                 out_root: str) -> dict:
    from emotui.learn.training import run_training

    cfg = _config(overrides, epochs, size)
    out = Path(out_root) / name.replace(" ", "_").replace(":", "").replace("(", "").replace(")", "")
    result = run_training(train, out, config=cfg, epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                          model_size=size, test_fraction=0.0, test_on=test_on, seed=cfg.seed)
    video = video_labels(out) if PEXELS.is_file() else None  # left-out models too: the video is unseen by all
    return {"name": name, "size": size, "by_source": result.metrics.get("by_source", {}), "video": video,
            "parameters": result.metrics.get("parameters"),
            "calibration": result.metrics.get("calibration"), "baseline": baseline(train, test_on)}


PEXELS = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "WolfgangLanger_Pexels.mp4"
NEUTRAL = 5  # index of neutral in emotui.labels.CLASSES


def neutral_swallow(metrics: dict) -> float:
    """Share of the faces whose true class is not neutral that the model called neutral."""
    cm = np.array(metrics["confusion_matrix"], dtype=float)  # rows: true class, columns: predicted
    rows = np.delete(cm, NEUTRAL, axis=0)
    return float(rows[:, NEUTRAL].sum() / max(rows.sum(), 1.0))


def video_labels(model_dir: Path, video: Path = PEXELS, frames: int = 97) -> dict[str, int]:
    """Counts per label of `emotui watch` on a video, every frame analysed, no smoothing: what a user sees."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "emotui", "watch", "--source", str(video), "--headless", "--json",
               "--interval", "0", "--fast", "--frames", str(frames), "--smooth", "0", "--model", str(model_dir),
               "--db", str(Path(tmp) / "log.db")]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    counts = collections.Counter(json.loads(line)["label"] for line in out.splitlines() if line.strip())
    return dict(counts.most_common())


def render_small_grey(dataset: Path, out: Path, side: int = 48) -> int:
    """Every image of a class-folder dataset as FER+ sees faces: `side` px grey (a temporary copy, never kept)."""
    import cv2

    n = 0
    for src in sorted(dataset.rglob("*")):
        if src.suffix.lower() not in (".jpg", ".jpeg", ".png") or not src.is_file():
            continue
        grey = cv2.imread(str(src), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            continue
        dest = out / src.relative_to(dataset)
        dest.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(dest.with_suffix(".png")), cv2.resize(grey, (side, side), interpolation=cv2.INTER_AREA))
        n += 1
    for extra in ("manifest.csv",):
        if (dataset / extra).is_file():
            rows = (dataset / extra).read_text().replace(".jpg", ".png").replace(".jpeg", ".png")
            (out / extra).write_text(rows)
    return n


def consistency(model_dir: Path, full: Path, dataset: Path) -> dict:
    """Share of faces whose label is the same at full resolution and at 48 px grey (the same images, the same
    model): a model that depends on the image domain changes its mind between them."""
    from emotui.data.extraction import run_extraction
    from emotui.data.features import read_feature_table, table_inputs
    from emotui.learn.predictor import Predictor

    predictor = Predictor.load(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small"
        render_small_grey(dataset, small)
        run_extraction(small, Path(tmp) / "small.parquet", workers=2)
        labels = {}
        for name, path in (("full", full), ("small", Path(tmp) / "small.parquet")):
            df = read_feature_table(path)
            df = df[(df["status"] == "ok") & (df["face"] == 0)]
            points, blend, views = table_inputs(df)
            probs = predictor.predict_arrays(points, blend, views=views)
            keys = [str(Path(p).relative_to(dataset if name == "full" else small).with_suffix("")) for p in df["path"]]
            labels[name] = dict(zip(keys, probs.argmax(1).tolist()))
    both = labels["full"].keys() & labels["small"].keys()
    same = sum(labels["full"][k] == labels["small"][k] for k in both)
    return {"faces": len(both), "same": same, "share": same / max(len(both), 1)}


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
    parser.add_argument("--model-size", dest="sizes", action="append", default=[],
                        help=f"a model size to run (again for several, side by side; default {DEFAULT_MODEL_SIZE})")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--only", action="append", default=[], help="run only protocols whose name has this")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--consistency", type=Path, metavar="DATASET",
                        help="also: labels at full resolution vs 48 px grey on this dataset (the features file of "
                             "the same name among FEATURES is its full-resolution extraction), by the 'all' model")
    parser.add_argument("--keep", type=Path, help="keep each protocol's model under this folder")
    parser.add_argument("--evaluate-kept", type=Path, help="only judge the models kept in this folder again")
    args = parser.parse_args()
    if args.evaluate_kept:
        evaluate_kept(args.evaluate_kept, args.features)
        return
    sizes = args.sizes or [DEFAULT_MODEL_SIZE]
    todo = [p for p in protocols(args.features) if not args.only or any(o in p[0] for o in args.only)]
    scratch = tempfile.TemporaryDirectory()  # the models, until the figures that reuse them are printed
    with ProcessPoolExecutor(args.jobs) as pool:
        root = Path(args.keep) if args.keep else Path(scratch.name)
        futures = [pool.submit(run_protocol, name, train, test, args.epochs, size, args.overrides,
                               str(root / size if len(sizes) > 1 else root))
                   for size in sizes for name, train, test in todo]
        results = [f.result() for f in futures]
    print(f"epochs {args.epochs}, sizes {', '.join(sizes)}, overrides {args.overrides or 'none'}")
    print(f"{'protocol':<26} {'size':<12} {'test data':<12} {'acc all':>8} {'acc':>6} {'F1':>6} {'->neu':>6} "
          f"{'LR acc all':>10} {'LR F1':>6} {'ratio acc':>9}  recall per class")
    for r in sorted(results, key=lambda r: (r["name"], sizes.index(r["size"]))):
        for src, m in r["by_source"].items():
            base = r["baseline"].get(src, {})
            acc_all = m.get("accuracy_all", m["accuracy"])
            recall = " ".join(f"{c[:3]} {v['recall']:.2f}" for c, v in m["per_class"].items() if v["support"])
            ratio = acc_all / base["accuracy_all"] if base.get("accuracy_all") else float("nan")
            print(f"{r['name']:<26} {r['size']:<12} {src:<12} {acc_all:>8.3f} {m['accuracy']:>6.3f} "
                  f"{m['macro_f1']:>6.3f} {neutral_swallow(m):>6.3f} "
                  f"{base.get('accuracy_all', float('nan')):>10.3f} {base.get('macro_f1', float('nan')):>6.3f} "
                  f"{ratio:>9.3f}  {recall}")
        if r.get("video"):
            print(f"{'':<26} {r['size']:<12} Pexels crying video, frames 0-96: "
                  + ", ".join(f"{k} {v}" for k, v in r["video"].items()))
        cal = r.get("calibration") or {}
        if "test_ece" in cal:
            print(f"{'':<26} calibration {cal['mode']}: T {cal.get('temperature', 1):.2f}, test ECE "
                  f"{cal['test_ece']['before']:.3f} -> {cal['test_ece']['after']:.3f}, test acc "
                  f"{cal['test_accuracy']['before']:.3f} -> {cal['test_accuracy']['after']:.3f}, F1 "
                  f"{cal['test_macro_f1']['before']:.3f} -> {cal['test_macro_f1']['after']:.3f}")
    if args.consistency:
        full = next(f for f in args.features if f.stem == args.consistency.name)
        for size in sizes:
            model = (root / size if len(sizes) > 1 else root) / "all_held-out_splits"
            c = consistency(model, full, args.consistency)
            print(f"{'':<26} {size:<12} same label at full size and 48 px grey on {args.consistency.name}: "
                  f"{c['same']} of {c['faces']} faces, {c['share']:.3f}")
            next(r for r in results if r["size"] == size and r["name"].startswith("all"))["consistency"] = c
    scratch.cleanup()
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"features": [str(f) for f in args.features],
                                                                "json": str(args.json)}, "results": results},
                                        indent=1, default=str))


if __name__ == "__main__":
    main()
