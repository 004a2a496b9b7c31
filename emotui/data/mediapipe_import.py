"""mediapipe without its drawing helpers' import cost: `import mediapipe` runs every task's module, and
vision.drawing_utils imports matplotlib.pyplot, ~1.6 s of a ~2 s import (measured by cProfile on 2 shared cores,
benchmarks/extract_phases.py). emotui never draws with them, yet every extraction (and each forkserver start) paid it.

The two drawing modules are made lazy (importlib.util.LazyLoader): they are found and bound as usual, and run, with
their matplotlib import, on the first use of one of their names, so code that does draw with them still can.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys

LAZY = frozenset({"mediapipe.tasks.python.vision.drawing_utils", "mediapipe.tasks.python.vision.drawing_styles"})


class _LazyDrawing(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path, target=None):  # noqa: ANN001, ANN201 - the MetaPathFinder protocol
        if name not in LAZY:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def install() -> None:
    """Before mediapipe's first import (a later call changes nothing already imported)."""
    if not any(isinstance(finder, _LazyDrawing) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LazyDrawing())


install()
