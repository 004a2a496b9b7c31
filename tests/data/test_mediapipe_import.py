"""mediapipe imported by emotui leaves its drawing helpers (and their matplotlib) unrun until used
(emotui.data.mediapipe_import): a fresh process, the real mediapipe."""

from __future__ import annotations

import subprocess
import sys

from ..conftest import REPO

PROBE = """
import sys, time
import emotui.data.landmarker
from emotui.data.landmarker import Landmarker
started = time.perf_counter()
with Landmarker(max_faces=1) as landmarker:
    pass
print(time.perf_counter() - started, "matplotlib.pyplot" in sys.modules)
from mediapipe.tasks.python.vision import drawing_utils
print(drawing_utils.DrawingSpec().thickness, "matplotlib.pyplot" in sys.modules)
"""


def test_a_landmarker_imports_no_matplotlib_and_drawing_still_works():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    (_, before), (thickness, after) = (line.split() for line in done.stdout.splitlines()[-2:])
    assert before == "False"  # ~1.6 s of every extraction's start, for drawing emotui never does
    assert (thickness, after) == ("2", "True")  # the first use runs the module, matplotlib and all


WORKER_PROBE = """
import sys
import emotui.data.worker_start, emotui.data.detection, mediapipe.tasks.python.vision
from emotui.data.landmarker import Landmarker
with Landmarker(max_faces=1):
    pass
sound = sys.modules.get("sounddevice")
print("absent" if sound is None else "imported", "urllib.request" in sys.modules)
from mediapipe.tasks.python.vision import face_landmarker  # what the workers use still works
print(face_landmarker.FaceLandmarker.__name__)
"""


def test_a_worker_imports_neither_the_microphone_helper_nor_the_downloader():
    """What the extraction's forkserver imports (emotui.data.worker_start first): PortAudio (sounddevice, for
    mediapipe's audio tasks) and urllib
    (for the model's download) cost ~50 ms of every pool start and are never used there."""
    done = subprocess.run([sys.executable, "-c", WORKER_PROBE], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    sound, downloader, landmarker = done.stdout.split()
    assert (sound, downloader, landmarker) == ("absent", "False", "FaceLandmarker")
