"""`--neutral IMAGE` on `emotui predict` and `emotui watch`: real images, the real landmarker, a model that uses
references (the tiny transformer of conftest) and the shipped one, which does not."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from emotui.cli import cli
from emotui.data.features import face_inputs
from emotui.data.landmarker import Landmarker, read_image
from emotui.labels import CLASSES
from emotui.learn.predictor import Predictor
from emotui.live.logstore import LogStore
from emotui.live.neutral import read_neutral

from ..conftest import DATASETS, MEDIA

CK = DATASETS / "ckplus48"
NEUTRAL = CK / "neutral" / "S010_neutral_001-00000001.png"
FACES = [CK / "happy" / "S010_happy_006-00000013.png", CK / "surprise" / "S010_surprise_002-00000012.png"]
PEXELS = str(MEDIA / "WolfgangLanger_Pexels.mp4")
BAD = [(MEDIA / "multi_face.jpg", "5 faces found"), (MEDIA / "free-mountain-vector-01.jpg", "no face found")]


def invoke(*args: str):  # noqa: ANN201
    return CliRunner().invoke(cli, [str(a) for a in args])


def probabilities(result) -> np.ndarray:  # noqa: ANN001
    data = json.loads(result.stdout)
    return np.array([[face["probabilities"][c] for c in CLASSES] for img in data["images"] for face in img["faces"]])


def test_predict_judges_every_face_against_the_neutral(reference_model):
    model = ["--model", reference_model]
    alone = invoke("predict", *model, *FACES, "--json")
    res = invoke("predict", *model, *FACES, "--neutral", NEUTRAL, "--json")
    assert alone.exit_code == 0 and res.exit_code == 0, res.output
    assert res.stderr == ""
    with Landmarker() as landmarker:
        faces = [landmarker.detect(read_image(path))[0] for path in FACES]
    points, blend, views = face_inputs(faces)
    rest = read_neutral(NEUTRAL)
    refs = (np.repeat(rest.points[None], 2, 0), np.repeat(rest.blend[None], 2, 0), np.ones(2, bool))
    expected = Predictor.load(reference_model).predict_arrays(points, blend, *refs, views=views)
    assert np.allclose(probabilities(res), expected, atol=1e-5)
    # the neutral changed what it saw (in log-probabilities: the conftest model is sure of these faces either way)
    assert np.abs(np.log(probabilities(res) + 1e-6) - np.log(probabilities(alone) + 1e-6)).max() > 0.1


@pytest.mark.parametrize("image,found", BAD)
def test_predict_refuses_a_neutral_image_without_exactly_one_face(reference_model, image, found):
    res = invoke("predict", "--model", reference_model, *FACES, "--neutral", image, "--json")
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr == f"emotui: error: --neutral {image}: {found}; the neutral image must show one face, " \
                         "the person's, at rest\n"


def test_predict_with_a_model_that_judges_faces_alone_says_so_and_still_predicts():
    plain = invoke("predict", *FACES, "--json")
    res = invoke("predict", *FACES, "--neutral", NEUTRAL, "--json")
    assert res.exit_code == 0 and "judges each face alone: --neutral changes nothing" in res.stderr
    assert len(res.stderr.splitlines()) == 1
    assert json.loads(res.stdout)["images"] == json.loads(plain.stdout)["images"]
    both = invoke("predict", *FACES, "--neutral", NEUTRAL, "--same-person")
    assert both.exit_code == 2 and "give --neutral or --same-person, not both" in both.stderr


def test_watch_with_a_neutral_judges_the_tracked_face_against_it_and_logs_that(reference_model, tmp_path):
    db = tmp_path / "log.db"
    watch = ["watch", "--source", PEXELS, "--headless", "--interval", "0", "--fast", "--frames", "20", "--json",
             "--model", reference_model, "--db", db]
    plain = invoke(*watch)
    res = invoke(*watch, "--neutral", NEUTRAL)
    assert res.exit_code == 0, res.output
    assert f"emotui: neutral face ({NEUTRAL}) set for face 1 from frame 0" in res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    before = [json.loads(line) for line in plain.stdout.splitlines()]
    assert len(lines) == 20 and all(r["neutral"] and r["calibrated"] for r in lines)
    assert not any(r["neutral"] for r in before) and [r["calibrated"] for r in before[:3]] == [False, False, True]
    assert max(abs(a["probabilities"][c] - b["probabilities"][c]) for a, b in zip(lines, before) for c in CLASSES) > 0.01
    with LogStore(db, read_only=True) as store:
        settings = store.session(lines[0]["session"]).settings
    assert settings["neutral_image"] == str(NEUTRAL) and settings["neutral"][0]["track"] == 1


@pytest.mark.parametrize("image,found", BAD)
def test_watch_refuses_a_bad_neutral_before_the_session_starts(reference_model, tmp_path, image, found):
    db = tmp_path / "log.db"
    res = invoke("watch", "--source", PEXELS, "--headless", "--fast", "--frames", "3", "--model", reference_model,
                 "--db", db, "--neutral", image)
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr.splitlines()[-1] == f"emotui: error: --neutral {image}: {found}; the neutral image must show " \
                                          "one face, the person's, at rest"
    with LogStore(db, read_only=True) as store:
        assert store.sessions() == []  # nothing logged


def test_watch_neutral_with_a_model_that_ignores_it_and_in_the_dashboard(tmp_path):
    res = invoke("watch", "--source", PEXELS, "--headless", "--fast", "--interval", "0", "--frames", "2",
                 "--db", tmp_path / "log.db", "--neutral", NEUTRAL)
    assert res.exit_code == 0 and "judges each face alone: --neutral changes nothing" in res.stderr
    several = invoke("watch", "--source", PEXELS, "--headless", "--fast", "--interval", "0", "--frames", "2",
                     "--max-faces", "2", "--db", tmp_path / "log.db", "--neutral", NEUTRAL)
    assert several.exit_code == 0 and "--neutral is the reference of the largest face in view" in several.stderr
    dashboard = invoke("watch", "--source", PEXELS, "--neutral", NEUTRAL)
    assert dashboard.exit_code == 2 and "--neutral only with --headless" in dashboard.stderr
