"""Where one `run_extraction` spends its time, phase by phase (time.perf_counter around each), in a fresh process:
the fixed per-run cost (model file, plan, worker start, parts, merge) apart from the per-image detection.

    python benchmarks/extract_phases.py MANIFEST OUT WORKERS [--mirror-view derive|detect|off]

Prints one JSON object of seconds per phase; bench_extract.py runs it and prints the table.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("EMOTUI_LANDMARKER", str(REPO.parent / "shared" / "models" / "face_landmarker.task"))

SPENT: dict[str, float] = defaultdict(float)


def _timed(owner: object, name: str, phase: str) -> None:
    """Replace owner.name by the same callable adding its time to SPENT[phase]."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SPENT[phase] += time.perf_counter() - started

    setattr(owner, name, wrapper)


def _first_batch(extraction) -> None:  # noqa: ANN001 - the module
    """run_pool timed to its first finished batch: the workers' start (fork, model load) and one batch."""
    original = extraction.run_pool

    def wrapper(*args, on_chunk, **kwargs):  # noqa: ANN002, ANN003, ANN202
        started = time.perf_counter()

        def first(*chunk_args):  # noqa: ANN002, ANN202
            if "pool: start to first batch" not in SPENT:
                SPENT["pool: start to first batch"] = time.perf_counter() - started
            return on_chunk(*chunk_args)

        try:
            return original(*args, on_chunk=first, **kwargs)
        finally:
            SPENT["pool: all (start, batches, shutdown)"] += time.perf_counter() - started

    extraction.run_pool = wrapper


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("manifest", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("workers", type=int)
    parser.add_argument("--mirror-view", default="derive")
    args = parser.parse_args()
    started = time.perf_counter()
    from emotui.data import datasets, extraction, extraction_plan, parts

    SPENT["import emotui.data.extraction"] = time.perf_counter() - started
    _timed(datasets, "discover", "discover the dataset")
    _timed(extraction, "resolve_landmarker", "model file: resolve")
    _timed(extraction, "sha256_of", "model file: sha256")
    _timed(extraction_plan.ExtractionPlan, "__init__", "plan: stat every image")
    _timed(extraction_plan.ExtractionPlan, "pending", "plan: read what is done")
    _timed(extraction, "new_landmarker", "landmarker: load the model (1 worker)")
    _timed(extraction, "detect_image", "detect (1 worker, per image)")
    _timed(parts.PartWriter, "write", "parts: write")
    _timed(extraction, "merge_parts", "merge the parts")
    _timed(extraction, "_summarise", "summary")
    _first_batch(extraction)
    run = time.perf_counter()
    summary = extraction.run_extraction(args.manifest, args.out, workers=args.workers, mirror_view=args.mirror_view)
    SPENT["run_extraction: all"] = time.perf_counter() - run
    SPENT["images"] = summary.detected
    json.dump(SPENT, sys.stdout)


if __name__ == "__main__":  # pool workers re-import this file
    main()
