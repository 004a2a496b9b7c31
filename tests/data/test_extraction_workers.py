"""Extraction's worker processes: a worker that cannot start is one clear line, and a `cv2.py` (or any module
name) in the user's current directory never shadows the real module in the workers."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from emotui.data.detection import WorkerStartError
from emotui.data.extraction import read_features
from emotui.data.landmarker import resolve_landmarker
from emotui.data.pool import run_pool

from ..conftest import DATASETS, MEDIA
from ..crashing_worker import failing_init

SAMPLE = DATASETS / "kaggle-layout-sample"


def test_a_worker_that_cannot_start_is_one_line_naming_the_cause(capfd):
    paths = [str(MEDIA / "single_face.jpg"), str(MEDIA / "multi_face.jpg")]
    done = []
    with pytest.raises(WorkerStartError) as caught:
        run_pool([[0], [1]], paths, model_path=str(resolve_landmarker()), max_faces=1, workers=2,
                 on_chunk=lambda chunk, results: done.append(chunk), stop=threading.Event(),
                 initializer=failing_init)
    assert str(caught.value) == ("extraction workers could not start: "
                                 "RuntimeError: could not create the FaceLandmarker in this worker")
    assert done == []
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception in initializer" not in err, err


@pytest.mark.slow
def test_a_cv2_py_in_the_current_directory_does_not_reach_the_workers(tmp_path):
    (tmp_path / "cv2.py").write_text('raise RuntimeError("the cv2.py of the current directory was imported")\n')
    emotui = Path(sys.executable).parent / "emotui"  # the installed command, as a user runs it
    out = tmp_path / "features.parquet"
    done = subprocess.run([str(emotui), "extract", str(SAMPLE), "--out", str(out), "--workers", "2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "current directory was imported" not in done.stderr
    features = read_features(out)
    assert (features["status"] == "ok").sum() >= 45  # the sample's faces, found by the real cv2 + MediaPipe
