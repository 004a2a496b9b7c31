"""Feature spec on real faces: pose removal, aspect handling, the computed mirror map, augmentation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from emotui.data.features import (
    REFERENCE_MIN_FACES,
    Augment,
    ReferenceTracker,
    augment_batch,
    blendshape_mirror_map,
    canonical_points,
    face_arrays,
    face_aspect,
    load_features,
    mirror_map,
    person_references,
)
from emotui.data.landmarker import BLENDSHAPE_NAMES, Landmarker, read_image

from ..conftest import MEDIA


@pytest.fixture(scope="module")
def face_image():
    return read_image(MEDIA / "single_face.jpg")


@pytest.fixture(scope="module")
def detect():
    with Landmarker() as landmarker:
        yield lambda rgb: landmarker.detect(np.ascontiguousarray(rgb))[0]


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).sum(-1).mean()))


def test_pose_removal_undoes_an_in_plane_rotation(face_image, detect):
    h, w = face_image.shape[:2]
    turned = cv2.warpAffine(face_image, cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0), (w, h))
    a, b = detect(face_image), detect(turned)
    pa, _ = face_arrays([a])
    pb, _ = face_arrays([b])
    # the same points without pose removal (identity matrices) differ by the 25 degree turn
    raw = [canonical_points(f.landmarks[None], np.eye(4)[None], face_aspect(f)) for f in (a, b)]
    assert _rms(pa, pb) < 0.04
    assert _rms(*raw) > 4 * _rms(pa, pb)


def test_aspect_ratio_is_recovered_and_padding_changes_nothing(face_image, detect):
    """Padding the image to a wide one changes every normalised coordinate but not the face."""
    h, w = face_image.shape[:2]
    wide = cv2.copyMakeBorder(face_image, 0, 0, w // 2, w // 2, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    a, b = detect(face_image), detect(wide)
    assert face_aspect(b) == pytest.approx(wide.shape[0] / wide.shape[1], rel=0.02)
    pa, _ = face_arrays([a])
    pb, _ = face_arrays([b])
    assert _rms(pa, pb) < 0.03
    squashed = canonical_points(b.landmarks[None], b.transform[None], 1.0)  # ignoring the aspect is wrong
    assert _rms(pa, squashed) > 3 * _rms(pa, pb)


def test_mirror_map_matches_a_flipped_image(face_image, detect, ck_subset_features):
    face, flipped = detect(face_image), detect(face_image[:, ::-1])
    pa, ba = face_arrays([face])
    pb, bb = face_arrays([flipped])
    mapping = mirror_map(load_features([ck_subset_features]).points.mean(0))
    assert (mapping[mapping] == np.arange(478)).all()  # pairs are mutual
    assert 10 < (mapping == np.arange(478)).sum() < 60  # the midline maps onto itself, nothing else does
    mirrored = pa[:, mapping] * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
    assert _rms(mirrored, pb) < 0.5 * _rms(pa, pb)
    swap = blendshape_mirror_map()
    assert BLENDSHAPE_NAMES[swap[BLENDSHAPE_NAMES.index("eyeBlinkLeft")]] == "eyeBlinkRight"
    ba, bb = ba[:, : len(swap)], bb[:, : len(swap)]  # the blendshapes (test_appearance mirrors the rest)
    assert np.abs(ba[0, swap] - bb[0]).mean() <= np.abs(ba[0] - bb[0]).mean() + 1e-3


def test_pose_removal_tightens_real_faces(ck_subset_features):
    fs = load_features([ck_subset_features])
    import pandas as pd

    table = pd.read_parquet(ck_subset_features)
    table = table[table["status"] == "ok"]
    lms = np.stack(table["landmarks"].to_numpy())
    no_pose = canonical_points(lms, np.tile(np.eye(4), (len(lms), 1, 1)))
    spread = lambda p: float(((p - p.mean(0)) ** 2).sum(-1).mean())  # noqa: E731
    assert spread(fs.points) < 0.8 * spread(no_pose)
    assert np.allclose(fs.points.mean(1), 0, atol=1e-5)
    assert np.allclose(np.sqrt((fs.points**2).sum(-1).mean(-1)), 1, atol=1e-4)


def test_augmentation_is_seeded_and_mirroring_twice_is_identity(ck_subset_features):
    fs = load_features([ck_subset_features])
    points, blend = torch.from_numpy(fs.points[:16]), torch.from_numpy(fs.blendshapes[:16])
    mean = points.mean(0)
    pm, bm = torch.from_numpy(mirror_map(mean.numpy())), torch.from_numpy(blendshape_mirror_map(blend.shape[1]))
    aug = Augment()
    one = augment_batch(points, blend, mean, pm, bm, aug, torch.Generator().manual_seed(1))
    two = augment_batch(points, blend, mean, pm, bm, aug, torch.Generator().manual_seed(1))
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])
    assert one[0].shape == points.shape and not torch.equal(one[0], points)
    flip_only = Augment(mirror=1.0, rotate_deg=0, scale=0, jitter=0, dropout=0, blend_jitter=0)
    once = augment_batch(points, blend, mean, pm, bm, flip_only)
    twice = augment_batch(*once, mean, pm, bm, flip_only)
    assert torch.allclose(twice[0], points) and torch.allclose(twice[1], blend)


def test_person_references_average_each_persons_faces_without_labels(ck_subset_features):
    fs = load_features([ck_subset_features])
    person = fs.subjects == fs.subjects[0]
    assert fs.has_ref[person].all() and person.sum() >= REFERENCE_MIN_FACES
    assert np.allclose(fs.ref_points[person], fs.points[person].mean(0), atol=1e-5)
    assert np.allclose(fs.ref_blend[person], fs.blendshapes[person].mean(0), atol=1e-6)
    # a person seen fewer than REFERENCE_MIN_FACES times has none
    few = np.concatenate([np.flatnonzero(person)[: REFERENCE_MIN_FACES - 1], np.flatnonzero(~person)])
    ref_p, ref_b, has_ref = person_references(fs.points[few], fs.blendshapes[few], fs.subjects[few])
    assert not has_ref[: REFERENCE_MIN_FACES - 1].any() and has_ref[REFERENCE_MIN_FACES - 1:].all()
    assert not ref_p[: REFERENCE_MIN_FACES - 1].any()


def test_reference_tracker_is_the_running_mean_of_each_track(ck_subset_features):
    fs = load_features([ck_subset_features])
    a, b = np.flatnonzero(fs.subjects == fs.subjects[0])[:4], np.flatnonzero(fs.subjects != fs.subjects[0])[:4]
    tracker = ReferenceTracker()
    for n in range(4):
        rows = [a[n], b[n]]
        ref_p, ref_b, has_ref = tracker.references([1, 2], fs.points[rows], fs.blendshapes[rows])
        assert has_ref.tolist() == [n + 1 >= REFERENCE_MIN_FACES] * 2
        if has_ref[0]:
            assert np.allclose(ref_p[0], fs.points[a[: n + 1]].mean(0), atol=1e-5)
            assert np.allclose(ref_b[1], fs.blendshapes[b[: n + 1]].mean(0), atol=1e-6)
    tracker.forget([1])
    assert not tracker.references([1], fs.points[a[:1]], fs.blendshapes[a[:1]])[2].any()
