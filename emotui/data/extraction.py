"""Parallel, resumable extraction of MediaPipe face features from a dataset into one Parquet file.

How nothing is lost: each finished batch is written at once as its own small Parquet file in `<out>.parts/`
(temp file, then rename), so Ctrl-C or kill -9 loses at most the batches in flight. At the end of every run,
finished or stopped, the parts are merged with the previous output into `<out>` (again temp + rename) and removed.
A part per batch keeps the cost of checkpointing proportional to the new rows; rewriting the whole output after
every batch would cost O(n^2) I/O on big datasets.

Resuming: a row is done when its (path, size, mtime_ns, landmarker sha256) is in the output or a part. A changed
file or another landmarker model gets its rows redone; rows of files no longer in the dataset are dropped.

This module runs a job; what to do is emotui.data.extraction_plan, the part files emotui.data.parts, and the final
merge emotui.data.extraction_merge.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import config
from ..atomic import write_error
from .detection import Detected, detect_image, new_landmarker
from ..errors import DatasetError, EmotuiError
from ..events import EventHandler, Finished, ItemFailed, Progress, ignore
from .extraction_merge import merge_parts
from .extraction_plan import ExtractionPlan, with_skipped
from .features_file import check_features_file, parts_dir
from .landmarker import resolve_landmarker, sha256_of
from .mirror import mirror_mode
from .parts import PartWriter
from .pool import cpu_count as _cpu_count, run_pool, warm_up
from .schema import BASE_SCHEMA, OPTIONAL_COLUMNS, STATUSES

STAGE = "extract"
ENGINES = ("local", "ray")
RETRIED_STATUSES = ("no_face", "error")  # what --retry-missed detects again (an unreadable file is redone when it changes)


@dataclass
class ExtractionSummary:
    """What the features file holds after this run (whole file), and what this run did."""

    out: str
    layout: str
    total: int  # images in the dataset
    detected: int  # images run through the landmarker in this run
    resumed: int  # images whose rows were already done
    remaining: int  # images still to do (non-zero only when stopped)
    faces: int  # face rows (status ok)
    by_status: dict[str, int]  # images per status
    by_class: dict[str, dict[str, int]]  # label -> status -> images
    unknown_labels: dict[str, int]  # label names left out -> files
    workers: int
    seconds: float
    rate: float  # images per second in this run
    cancelled: bool = False
    landmarker: str = ""
    unreadable_folders: list[str] = field(default_factory=list)  # folders of the dataset that could not be listed
    engine: str = "local"  # what detected: local processes, or Ray actors (`workers` counts them)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def features_path_for(dataset: str | Path) -> Path:
    """The default features file of a dataset: <data dir>/features/<name>-<hash of its absolute path>.parquet."""
    path = Path(os.path.abspath(Path(dataset).expanduser()))
    name = path.stem if path.is_file() or path.suffix.lower() == ".csv" else path.name
    if name == "manifest":
        name = path.parent.name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "dataset"
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    return config.data_dir() / "features" / f"{slug}-{digest}.parquet"


def read_features(path: str | Path):  # noqa: ANN201 (pandas is imported lazily)
    """Load a features file as a DataFrame; list columns hold numpy float32 arrays (None when no face)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path).expanduser()
    if not path.is_file() and not parts_dir(path).is_dir():
        raise DatasetError(f"features file not found: {path} (make it with `emotui extract DATASET --out {path}`)")
    check_features_file(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(f"{path} is not a Parquet features file: {exc}") from None
    missing = [name for name in BASE_SCHEMA.names if name not in table.column_names and name not in OPTIONAL_COLUMNS]
    if missing:
        raise DatasetError(f"{path} is not an emotui features file (missing columns: {', '.join(missing)})")
    return table.to_pandas()


# ---------------------------------------------------------------- the job

def run_extraction(
    dataset: Any,
    out: str | Path | None = None,
    *,
    workers: int | None = None,
    max_faces: int = 1,
    landmarker: str | Path | None = None,
    on_event: EventHandler = ignore,
    stop: threading.Event | None = None,
    chunk_size: int | None = None,
    engine: str = "local",
    address: str | None = None,
    mirror_view: str | bool = "derive",
    retry_missed: bool = False,
    _task: Any = None,
) -> ExtractionSummary:
    """Extract features of every image in `dataset` (a path, or a DataFrame from datasets.discover) into `out`.

    `workers`: processes (None = all cores; 1 = in this thread, no pool). `max_faces`: rows per image (largest
    first). Setting `stop` finishes the batches in flight, saves, and returns a summary with cancelled=True.
    `chunk_size`: images per batch (default: small enough to spread the work, at most 32). `engine` "ray" detects
    on Ray (emotui.data.extraction_ray): `workers` is then its actors (default: the cluster's CPUs) and `address` the
    cluster's (default: a local instance). `mirror_view` gives each face its mirror view: "derive" (default) from its
    one detection, "detect" by meshing the mirrored image too (twice MediaPipe's work), "off" (emotui.data.mirror;
    measured in models/default/NOTES.md). `retry_missed` detects again the images recorded with no face or an error
    (after an emotui that finds more faces). `_task` replaces the worker's batch function (tests use it to crash
    a worker).
    """
    import pandas as pd

    from .datasets import discover

    started = time.perf_counter()
    if engine == "local":
        warm_up(workers)
    stop = stop or threading.Event()
    if max_faces < 1:
        raise EmotuiError("--max-faces must be at least 1")
    mirror_view = mirror_mode(mirror_view)
    if engine not in ENGINES:
        raise EmotuiError(f"unknown engine {engine!r} (one of: {', '.join(ENGINES)})")
    if address and engine != "ray":
        raise EmotuiError("--address is the Ray cluster's: it needs --engine ray")
    if engine == "ray":
        from .extraction_ray import import_ray

        import_ray()  # before any work: a missing extra is one line, not a failure after discovery
    frame = dataset if isinstance(dataset, pd.DataFrame) else discover(dataset)
    frame, skips = with_skipped(frame)
    if out is None:
        if isinstance(dataset, pd.DataFrame):
            raise EmotuiError("run_extraction needs `out` when given a DataFrame")
        out = features_path_for(dataset)
    out = Path(out).expanduser()
    model_path = resolve_landmarker(landmarker)
    model_sha = sha256_of(model_path)
    requested = workers
    workers = max(1, int(workers or _cpu_count()))
    if engine == "local" and workers > MAX_WORKERS_PER_CORE * _cpu_count():
        # Each worker is a process with its own FaceLandmarker (~150 MB): --workers 10000 would exhaust memory.
        raise EmotuiError(f"--workers {workers} is more than {MAX_WORKERS_PER_CORE * _cpu_count()} "
                          f"({MAX_WORKERS_PER_CORE} per core on this machine): each worker holds its own landmarker")

    out.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(out):
        plan = ExtractionPlan(frame, out, model_sha, mirror_view)
        todo = plan.pending(retry=RETRIED_STATUSES if retry_missed else ())
        skipped = [i for i in todo if plan.paths[i] in skips]
        to_detect = [i for i in todo if plan.paths[i] not in skips]
        parts = PartWriter(plan)
        tally: Counter[str] = Counter()

        def finished_chunk(indices: list[int], results: list[Detected]) -> None:
            parts.write(indices, results)
            for index, result in zip(indices, results):
                tally[result.status] += 1
                if result.status != "ok":
                    on_event(ItemFailed(STAGE, plan.paths[index], result.status, result.error or result.status))
            done = sum(tally.values())
            rate = done / max(time.perf_counter() - clock, 1e-9)
            eta = (len(todo) - done) / rate if rate > 0 else None
            on_event(Progress(STAGE, done, len(todo), rate, eta, dict(tally)))

        on_event(Progress(STAGE, 0, len(todo), 0.0, None, {}))
        clock = time.perf_counter()
        try:
            if skipped:  # recorded, not detected: no worker opens them
                finished_chunk(skipped, [Detected("skipped", skips[plan.paths[i]]) for i in skipped])
            if engine == "ray" and to_detect:
                from .extraction_ray import run_on_ray

                workers = run_on_ray(to_detect, plan.paths, model_path=model_path, max_faces=max_faces,
                                     workers=requested, local_cpus=_cpu_count(),
                                     chunks_for=lambda items, n: _chunks(items, n, chunk_size),
                                     on_chunk=finished_chunk, stop=stop, address=address, task=_task,
                                     mirror_view=mirror_view)
            else:
                chunks = _chunks(to_detect, workers, chunk_size)
                workers = min(workers, max(1, len(chunks)))
                if chunks and workers == 1:
                    _run_here(chunks, plan.paths, str(model_path), max_faces, finished_chunk, stop, mirror_view)
                elif chunks:
                    run_pool(chunks, plan.paths, model_path=str(model_path), max_faces=max_faces, workers=workers,
                             on_chunk=finished_chunk, stop=stop, mirror_view=mirror_view,
                             **({"task": _task} if _task else {}))
        finally:
            table = merge_parts(plan)
        detected = sum(tally.values())
        elapsed = time.perf_counter() - clock
        summary = _summarise(
            table, frame, out, model_sha, workers=workers, detected=detected, resumed=len(frame) - len(todo),
            remaining=len(todo) - detected, seconds=time.perf_counter() - started,
            rate=detected / elapsed if detected else 0.0, engine=engine,
        )
    on_event(Finished(STAGE, summary.as_dict(), cancelled=summary.cancelled))
    return summary


def _chunks(todo: list[int], workers: int, chunk_size: int | None) -> list[list[int]]:
    """Batches small enough to spread the work (about 8 per worker), at most 32 images: a batch is the unit of
    saving, so a bigger one would lose more on a kill."""
    size = chunk_size or max(1, min(32, math.ceil(len(todo) / (max(1, min(workers, len(todo))) * 8))))
    return [todo[i : i + size] for i in range(0, len(todo), size)]


def _run_here(chunks, paths, model_path, max_faces, finished_chunk, stop, mirror_view) -> None:  # noqa: ANN001
    """One worker: detect in the calling thread (no process start-up or pickling costs)."""
    with new_landmarker(model_path, max_faces, mirror_view) as landmarker:
        for chunk in chunks:
            results = []
            for index in chunk:
                if stop.is_set():
                    break
                results.append(detect_image(landmarker, paths[index], max_faces))
            if results:
                finished_chunk(chunk[: len(results)], results)
            if stop.is_set():
                return


def _summarise(table, frame, out: Path, model_sha: str, **run: Any) -> ExtractionSummary:  # noqa: ANN001
    by_status: Counter[str] = Counter()
    by_class: dict[str, Counter[str]] = {}
    faces = 0
    if table is not None and table.num_rows:
        rows = table.select(["label", "status", "face"]).to_pandas()
        faces = int(rows["status"].eq("ok").sum())
        images = rows[rows["face"] == 0]
        by_status.update(images["status"].value_counts().to_dict())
        for (label, status), n in images.groupby(["label", "status"]).size().items():
            by_class.setdefault(str(label), Counter())[str(status)] = int(n)
    ordered_status = {s: int(by_status[s]) for s in STATUSES if by_status[s]}
    return ExtractionSummary(
        out=str(out),
        layout=str(frame.attrs.get("layout", "")),
        total=len(frame),
        faces=faces,
        by_status=ordered_status,
        by_class={label: dict(counts) for label, counts in sorted(by_class.items())},
        unknown_labels=dict(frame.attrs.get("unknown_labels", {})),
        unreadable_folders=list(frame.attrs.get("unreadable_folders", [])),
        cancelled=run["remaining"] > 0,
        landmarker=model_sha,
        **run,
    )


MAX_WORKERS_PER_CORE = 4


@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Two extractions writing one file would interleave their parts: refuse the second one."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; documented as unsupported
        yield
        return
    lock_path = out.with_name(f".{out.name}.lock")
    try:
        handle = open(lock_path, "w")
    except OSError as exc:  # the user asked for `out`, not the lock: name theirs
        raise write_error(out, exc) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise EmotuiError(f"another `emotui extract` is writing {out}") from None
        try:
            yield
        finally:
            lock_path.unlink(missing_ok=True)
