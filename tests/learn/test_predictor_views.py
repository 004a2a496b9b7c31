"""Mirror views in prediction: a view derived from the face's own detection is the mirror image the model already
averages in, so it is not judged again; a view MediaPipe detected in the mirrored image is."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from emotui.data.features import face_inputs
from emotui.data.landmarker import Landmarker

from ..conftest import MEDIA


def _frames(kind: str, n: int = 4) -> list:
    faces = []
    with Landmarker(video=True, max_faces=1, mirror_view=kind) as detector:
        cap = cv2.VideoCapture(str(MEDIA / "WolfgangLanger_Pexels.mp4"))
        for _ in range(n):
            ok, bgr = cap.read()
            assert ok
            faces += detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), int(cap.get(cv2.CAP_PROP_POS_MSEC)))[:1]
        cap.release()
    assert len(faces) == n
    return faces


@pytest.mark.parametrize("kind", ["derive", "detect"])
def test_derived_views_are_not_judged_twice(predictor, kind, monkeypatch):
    points, blend, views = face_inputs(_frames(kind))
    assert views[2].all()
    extra = predictor._own_views(points, predictor._descriptors(blend), (views[0], predictor._descriptors(views[1]),
                                                                          views[2]))
    judged = []
    real = predictor._probabilities

    def counting(arrays, batch_size):
        judged.append(len(arrays[0]))
        return real(arrays, batch_size)

    monkeypatch.setattr(predictor, "_probabilities", counting)
    with_views = predictor.predict_arrays(points, blend, views=views)
    alone = predictor.predict_arrays(points, blend)
    if kind == "derive":  # the same probabilities, for the faces' own batch alone
        assert len(extra) == 0 and judged == [len(points), len(points)]
        np.testing.assert_allclose(with_views, alone, atol=1e-5)
    else:  # a second mesh of each face: judged beside it, and it moves the probabilities
        assert len(extra) == len(points) and judged == [2 * len(points), len(points)]
        assert np.abs(with_views - alone).max() > 1e-4


def test_fused_crop_network_judges_as_the_checkpoint_does(predictor):
    """The Predictor folds the crop CNN's BatchNorms into its convolutions: real video faces get the probabilities
    of the checkpoint's own, unfused network."""
    import torch

    from emotui.learn.checkpoint import load_checkpoint

    unfused = load_checkpoint(predictor.model_dir)[0]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in predictor.model.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in unfused.modules())
    points, blend, _ = face_inputs(_frames("off"))
    blend = predictor._descriptors(blend)
    with torch.inference_mode():
        want = unfused.probabilities(torch.from_numpy(points), torch.from_numpy(blend)).numpy()
    got = predictor.predict_arrays(points, blend)
    assert np.abs(got - want).max() < 1e-5
    assert (got.argmax(1) == want.argmax(1)).all()
