"""The first module the extraction's forkserver imports: it keeps the current directory out of `sys.path`, and
mediapipe's microphone helper out of the workers.

The forkserver is started as `python -c ...`, which puts '' (the current directory) first on its path, and every
worker is forked from it: a user running emotui in a folder holding a file named like a module (`cv2.py`,
`numpy.py`) would have the workers import that file instead. emotui's own process never has it (the `emotui`
script's path is its own folder), so workers must not either.
"""

from __future__ import annotations

import os
import sys


def drop_current_directory() -> None:
    here = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.abspath(p) != here]


drop_current_directory()


def skip_microphone() -> None:
    """`import mediapipe` imports sounddevice for its audio tasks (tolerating its absence): ~35 ms of each pool
    start, looking for PortAudio, in processes that only ever see images. Only the workers go without it."""
    sys.modules.setdefault("sounddevice", None)  # None: `import sounddevice` raises ImportError, which it expects


skip_microphone()
