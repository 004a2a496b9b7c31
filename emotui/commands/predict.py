"""`emotui predict [--model DIR] IMAGE...`: the expression of every face in some images."""

from __future__ import annotations

import json

import click
import numpy as np

from ..data.features import REFERENCE_MIN_FACES
from ..inputs import GIVEN_FILE, MODEL_DIR, Count
from . import prior_option


@click.command(name="predict")
@click.argument("images", nargs=-1, required=True, type=GIVEN_FILE)
@click.option("--model", "model_dir", type=MODEL_DIR, default=None, help="Model directory (default: the shipped model).")
# A group photo's faces, all of them: with fewer found, photos of 640 px or more are searched in tiles (~4 passes).
@click.option("--max-faces", default=10, show_default=True, type=Count(1, 100), help="Most faces per image.")
@click.option("--same-person", is_flag=True,
              help="The images show one person: judge each face against the mean of the largest faces "
                   f"(used from {REFERENCE_MIN_FACES} images on), as the monitor does for a tracked face.")
@click.option("--neutral", type=GIVEN_FILE, default=None,
              help="An image of the person's neutral (rest) face, alone: every face is judged against it.")
@prior_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every image and face.")
def predict(images, model_dir, max_faces, same_person, neutral, prior, as_json) -> None:  # noqa: ANN001
    """Label, the 8 probabilities and the bounding box of each face (largest first)."""
    from ..errors import ImageReadError
    from ..data.detection import decode_for_detection
    from ..data.landmarker import Landmarker
    from ..errors import UsageError
    from ..learn.predictor import Predictor
    from ..live.neutral import read_neutral, reference_note

    if neutral is not None and same_person:
        raise UsageError("give --neutral or --same-person, not both: each is the faces' reference")
    predictor = Predictor.load(model_dir, prior)
    # read first: an image without exactly one face is the whole answer, no face judged without it
    rest = read_neutral(neutral) if neutral is not None else None
    detected, failed = [], 0
    with Landmarker(max_faces=max_faces) as landmarker:
        for path in images:
            try:
                rgb, width, _ = decode_for_detection(path)
                detected.append((path, _full_size(landmarker.detect(rgb), width / rgb.shape[1]), None))
            except ImageReadError as exc:
                failed += 1
                detected.append((path, [], str(exc)))
                click.echo(f"emotui: error: {exc}", err=True)
    reference = None
    if rest is not None and not predictor.uses_reference:
        click.echo(f"emotui: note: {reference_note(False, predictor.model_id)}", err=True)
    elif rest is not None:
        reference = (rest.points, rest.blend, np.bool_(True))
    if same_person and not predictor.uses_reference:
        click.echo(f"emotui: note: the model {predictor.model_id} judges each face alone: --same-person changes "
                   "nothing (the transformer sizes use it)", err=True)
    elif same_person:
        largest = [faces[0] for _, faces, _ in detected if faces]
        reference = _person_reference(largest)
        if reference is None:
            click.echo(f"emotui: note: --same-person needs faces in {REFERENCE_MIN_FACES} images, found "
                       f"{len(largest)}: each face is judged on its own", err=True)
    results = []
    for path, faces, error in detected:
        refs = None
        if reference is not None and faces:
            refs = tuple(np.repeat(part[None], len(faces), axis=0) for part in reference)
        probs = predictor.predict(faces, refs) if faces else []
        results.append({"path": str(path), "error": error, "faces": [
            {"label": predictor.classes[int(p.argmax())], "confidence": float(p.max()),
             "probabilities": {c: round(float(v), 6) for c, v in zip(predictor.classes, p)},
             "bbox": [round(float(v), 1) for v in face.bbox]}
            for face, p in zip(faces, probs)
        ]})
    if as_json:
        click.echo(json.dumps({"model": predictor.model_id, "prior": predictor.prior, "classes": list(predictor.classes), "images": results}))
    else:
        for item in results:
            if item["error"]:
                continue
            if not item["faces"]:
                click.echo(f"{item['path']}: no face")
            for i, face in enumerate(item["faces"]):
                top = sorted(face["probabilities"].items(), key=lambda kv: -kv[1])[:3]
                others = ", ".join(f"{c} {v:.2f}" for c, v in top[1:])
                bbox = ",".join(f"{v:.0f}" for v in face["bbox"])
                click.echo(f"{item['path']} face {i}: {face['label']} {face['confidence']:.2f} ({others}) bbox {bbox}")
    if failed:  # each unreadable image was reported on stderr; the others were still predicted
        raise SystemExit(1)


def _full_size(faces: list, scale: float) -> list:
    """Boxes in the pixels of the image file, not of the reduced copy a huge JPEG was decoded to."""
    from dataclasses import replace

    if scale == 1:
        return faces
    return [replace(face, bbox=tuple(v * scale for v in face.bbox)) for face in faces]


def _person_reference(faces: list) -> tuple | None:
    """(ref_points, ref_blend, has_ref) of one person from their faces, or None with too few of them."""
    from ..data.features import face_arrays, person_references

    if not faces:
        return None
    ref_p, ref_b, has_ref = person_references(*face_arrays(faces), np.zeros(len(faces)))
    return (ref_p[0], ref_b[0], has_ref[0]) if has_ref[0] else None
