"""MODEL_CARD.md of a trained model directory, rendered from its config.json alone: the data it was trained on
(with checksums), the split, the recipe, the test metrics per class and the confusion matrix. `emotui train`
writes it beside the weights, so a card always describes the weights next to it. A hand-written NOTES.md in the
same directory (the data's terms, cross-validation, what was tried) is appended as it stands."""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_write_text
from ..data.features import REFERENCE_MIN_FACES

CARD = "MODEL_CARD.md"
NOTES = "NOTES.md"


def _architecture(config: dict) -> str:
    a = config["architecture"]
    output = f"Output: probabilities of {', '.join(config['classes'])} (this order)."
    if not a.get("depth"):
        return (f"A two-layer MLP ({a['wide']} wide) over MediaPipe FaceLandmarker features of one face: the "
                "pose-free landmarks and the blendshapes, each input standardised on the training faces"
                + (", and their offsets from the person's reference face" if a.get("reference") else
                   "; each face is judged alone") + f". {output}")
    relative = (" (each point both relative to the average face and to the person's own reference face, when "
                "known)" if a.get("reference") else "")
    blend = ("a blendshape token (the blendshapes, their offset from the person's reference and a flag saying "
             "whether one is known)" if a.get("reference") else "a blendshape token")
    wide = f", and a whole-face MLP ({a['wide']} wide) whose logits are added" if a.get("wide") else ""
    if a.get("face_token"):
        wide = ""
        blend = (f"a whole-face token (a two-layer MLP, {a['wide']} wide, over every input standardised), " + blend)
    if a.get("appearance_tokens"):
        hog = a["appearance"] - a.get("crop_side", 0) ** 2
        blend += (f", {a['appearance_tokens']} appearance tokens (the HOG of the aligned face crop, "
                  f"{hog // a['appearance_tokens']} values each)")
    if a.get("crop_grid") and a.get("crop_side"):
        blend += (f", {a['crop_grid'] ** 2} crop tokens (a 3-layer convolutional network over the "
                  f"{a['crop_side']} px aligned grey crop)")
    return (f"A transformer encoder over MediaPipe FaceLandmarker features of one face: {a['n_regions']} facial-region "
            f"tokens of the pose-free landmarks{relative}, {blend}, a class token (dim {a['dim']}, {a['depth']} "
            f"layers, {a['heads']} heads){wide}. {output}")


def _views(config: dict) -> str:
    if not config.get("training", {}).get("config", {}).get("views"):
        return ""
    # a model trained before files were marked (emotui.data.features_file.MIRROR_VIEW) had second detections only
    marked = any(s.get("mirror_view") for s in config["training"].get("data", []))
    made = ("derived from its one mesh, or the face meshed again in the mirrored image: each file's kind is under "
            "Data" if marked else "the face meshed again in the mirrored image")
    return (f" Each face's mirror view ({made}) was one more training face, and the figures below, like every "
            "prediction, average a face with its view where it has one.")


def _metrics(name: str, m: dict, classes: list[str], reference: bool = True) -> list[str]:
    by_source = "".join(f"; {k} alone: accuracy {v['accuracy']:.3f}, macro-F1 {v['macro_f1']:.3f} ({v['n']} faces"
                        + (f"; {v['accuracy_all']:.3f} of all {v['n_images']} images, a missed face counted wrong"
                           if "accuracy_all" in v else "") + ")"
                        for k, v in m.get("by_source", {}).items())
    each = (f", each with its person reference where that part holds {REFERENCE_MIN_FACES} or more of the "
            "person's faces" if reference else "")
    lines = [f"accuracy **{m['accuracy']:.3f}**, macro-F1 **{m['macro_f1']:.3f}** on {m['n']} {name} faces{each}"
             f"{by_source}.", ""]
    if "per_class" not in m:
        return lines
    lines += ["| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
              for k, v in m["per_class"].items()]
    lines += ["", "Confusion matrix (rows = true class, columns = predicted):", "",
              "| true \\ predicted | " + " | ".join(classes) + " |", "|---|" + "---:|" * len(classes)]
    lines += [f"| {k} | " + " | ".join(map(str, row)) + " |" for k, row in zip(classes, m["confusion_matrix"])]
    return lines + [""]


def _calibration(cal: dict | None) -> list[str]:
    if not cal or cal.get("mode", "none") == "none":
        return []
    what = {"temperature": "a temperature", "prior": "a temperature and a per-class logit bias (the class prior of "
            "the validation faces)"}[cal["mode"]]
    lines = ["## Calibration", "", f"After training, {what} fitted on the validation part (T = "
             f"{cal['temperature']:.3f}); the test figures above include it. Expected calibration error (15 bins) "
             "and accuracy before and after:", "", "| part | ECE before | ECE after | accuracy before | after | "
             "macro-F1 before | after |", "|---|---:|---:|---:|---:|---:|---:|"]
    for part, name in (("val", "validation"), ("test", "test")):
        if f"{part}_ece" in cal:
            e, a, f = cal[f"{part}_ece"], cal[f"{part}_accuracy"], cal[f"{part}_macro_f1"]
            lines.append(f"| {name} | {e['before']:.3f} | {e['after']:.3f} | {a['before']:.3f} | {a['after']:.3f} | "
                         f"{f['before']:.3f} | {f['after']:.3f} |")
    return lines + [""]


def _file_name(source: dict, data: list[dict]) -> str:
    """A features file's dataset name, and its own file where another file has the same name (renderings of a
    dataset count as its persons, so they take its name)."""
    name = f"`{source['name']}`"
    if sum(s["name"] == source["name"] for s in data) < 2:
        return name
    return f"{name} (file `{Path(source['path']).name}`)"


def render_card(config: dict, notes: str = "") -> str:
    t, metrics, classes = config["training"], config["metrics"], config["classes"]
    cfg = t["config"]
    lines = [f"# emotui expression model `{config['model_id']}`", "",
             f"emotui {config['emotui_version']} · {config['created']} · {config['parameters']:,} parameters · "
             f"feature spec v{config['feature_spec']['version']} · weights sha256 `{config['weights_sha256'][:16]}…`",
             "", _architecture(config) + _views(config), ""]
    if not config.get("complete", True):
        lines += ["**Training was stopped before the end**: these are the best weights up to then.", ""]
    lines += ["## Data", "", "Features files it was trained on (the images themselves are not part of the model):", ""]
    lines += [f"- {_file_name(s, t['data'])}: {s['used']} labelled faces used"
              + (" **for testing only** (`--test-on`)" if s.get("test_only") else
                 f", {s['held_out']} of them held out for testing by the data's own split" if s.get("held_out") else "")
              + f", {s['skipped']} rows skipped (no face)"
              + (f"; mirror views: {s['mirror_view']}" if s.get("mirror_view") else "")
              + f"; sha256 `{s['sha256'][:16]}…`" for s in t["data"]]
    split = t["split"]
    kind = f"fold {split['fold']} of a subject-grouped cross-validation" if split.get("fold") is not None else "one split"
    lines += ["", "## Split and recipe", "",
              f"Subject-disjoint and stratified ({kind}, seed {cfg['seed']}): no person is in two parts.", "",
              "| part | faces | persons |", "|---|---:|---:|"]
    lines += [f"| {name} | {split[name]['faces']} | {_persons(split[name])} |" for name in ("train", "validation", "test")]
    lines += ["", f"Size {cfg['model_size']}, up to {cfg['epochs']} epochs (batch {cfg['batch_size']}, lr {cfg['lr']}, "
              f"early stopping after {cfg['patience']} without progress); best epoch {t['best_epoch']} of "
              f"{t['epochs_run']} run, chosen on validation macro-F1"
              + (" of the weights' exponential average." if cfg.get("ema") else "."), ""]
    reference = bool(config["architecture"].get("reference", True))
    for part, title in (("test", "Test metrics (persons never seen in training)"),
                        ("validation", "Validation metrics (no test part)")):
        if metrics.get(part):
            lines += [f"## {title}", "", *_metrics(part, metrics[part], classes, reference)]
            break
    lines += _calibration(metrics.get("calibration"))
    card = "\n".join(lines)
    return card + ("\n" + notes.strip() + "\n" if notes.strip() else "")


def write_card(model_dir: Path, config: dict) -> Path:
    """(Re)write MODEL_CARD.md in `model_dir` from `config`, with the directory's NOTES.md appended if present."""
    model_dir = Path(model_dir)
    notes = model_dir / NOTES
    path = model_dir / CARD
    atomic_write_text(path, render_card(config, notes.read_text(errors="replace") if notes.is_file() else ""))
    return path


def _persons(part: dict) -> str:
    no_id = part.get("no_person_id", 0)
    if not no_id:
        return f"{part['subjects']}"
    return f"{part['subjects'] or 'none known'} ({'and ' if part['subjects'] else ''}{no_id} faces without a person id)"
