"""Extraction's detection on Ray (`emotui extract --engine ray`): the same batches as the local pool, detected by
an actor pool of Ray Data, on a local Ray instance or the user's cluster.

Only the detection moves: discovery, the part files, resuming and the final merge stay in the local modules (extraction, extraction_plan, parts, extraction_merge), in the
process that runs `emotui extract` (the driver). Each actor builds its FaceLandmarker once, from the model bytes
shipped in its constructor (MediaPipe objects never cross processes, and workers need no copy of the file), and
decodes the images itself from their paths: only paths go out and features (a few KB a face) come back.

What Ray does not do the way the local pool does:
- An actor that dies is restarted and its batch retried (TASK_RETRIES times). A batch that still fails is
  dropped by Ray Data (max_errored_blocks), and its images run again one per batch, as the local pool isolates
  the image that kills a worker; one that fails alone too is recorded with status "error".
- On stop, the batches in flight are abandoned rather than awaited (Ray Data has no drain): only what was saved
  is kept, and the next run does the rest.

Ray is imported here only, and this module only with --engine ray: the core stays light without the extra.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .detection import Detected, detect_chunk, new_landmarker, use_landmarker
from ..errors import EmotuiError
from .landmarker import _native_stderr_silenced
from .pool import CRASHED, MAX_CRASHES_IN_A_ROW
from .schema import FACE_COLUMNS

RAY_EXTRA = "pip install 'emotui[ray]'"
# Retries of a batch whose actor died, and again of each of its images run alone: one retry survives a kill from
# outside (a node lost, the OOM killer choosing this actor); more would only cost an image that kills every actor
# more deaths, each an actor's start-up (2-3 s).
TASK_RETRIES = 1
# The driver's object store holds the model (~4 MB) and batches of features in flight, never images.
LOCAL_OBJECT_STORE = 256 * 1024 * 1024

ChunkDone = Callable[[list[int], list[Detected]], None]


class RayEngineError(EmotuiError):
    """Ray is missing, unreachable, or its workers cannot run the extraction."""


def import_ray() -> Any:  # noqa: ANN401 - the ray module
    try:
        import ray
        import ray.data  # noqa: F401 - the [data] part of the extra
    except ImportError as exc:
        raise RayEngineError(f"--engine ray needs Ray ({exc.name or 'ray'} is not installed): {RAY_EXTRA}") from None
    return ray


# ---------------------------------------------------------------- the session

@contextlib.contextmanager
def ray_session(address: str | None, local_cpus: int) -> Iterator[int]:
    """Connected to Ray for the block; yields the CPUs of the cluster. Without `address`, a new local instance on
    this machine's cores, shut down after. A process already connected (a test, a notebook) keeps its connection.

    The local instance's node is on loopback and has no dashboard. Its servers still listen on every interface
    (Ray 2.60 has no setting to bind them to loopback), but Ray gives a local instance token authentication
    (RAY_AUTH_MODE=token, the token in ~/.ray/auth_token): nothing without the user's token can join it."""
    ray = import_ray()
    if ray.is_initialized():
        _quiet_ray_data(ray)
        yield _cpus(ray, address)
        return
    if address:
        check_address(address)
    # Ray's C++ side logs warnings on this process's stderr, over the progress bar. Ray Data's usage report would
    # start one more actor (a process importing Ray Data, on the cores the actors need) to send telemetry.
    private = {"RAY_BACKEND_LOG_LEVEL": os.environ.get("RAY_BACKEND_LOG_LEVEL", "fatal"),
               "RAY_DATA_USAGE_DISABLED": os.environ.get("RAY_DATA_USAGE_DISABLED", "1")}
    saved = {name: os.environ.get(name) for name in private}
    os.environ.update(private)
    try:
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
        try:
            # ray.init's C++ side announces the log level it read, on fd 2.
            with _native_stderr_silenced():
                if address:
                    ray.init(address=address, **quiet)
                else:
                    ray.init(address="local", num_cpus=local_cpus, _node_ip_address="127.0.0.1",
                             include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE, **quiet)
        except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError, ...
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise RayEngineError(f"cannot connect to {where}: {_one_line(exc)}") from None
        try:
            _quiet_ray_data(ray)
            yield _cpus(ray, address)
        finally:
            ray.shutdown()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _cpus(ray, address: str | None) -> int:  # noqa: ANN001
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if cpus < 1:
        raise RayEngineError(f"the Ray cluster at {address or 'this machine'} has no CPUs to run extraction on")
    return cpus


def check_address(address: str) -> None:
    """A host:port nobody answers on would have ray.init retry for a minute; say so in seconds instead."""
    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise RayEngineError(f"--address {address}: expected HOST:PORT (the head node's GCS port, 6379 by default),"
                             " ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except socket.gaierror:
        raise RayEngineError(f"cannot reach the Ray cluster at {address}: no such host") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RayEngineError(f"cannot reach the Ray cluster at {address}: {reason} (is `ray start --head` running "
                             "there, and is the port open?)") from None


def _quiet_ray_data(ray: Any) -> None:  # noqa: ANN401
    """emotui draws its own progress; Ray Data's bars and log lines would interleave with it."""
    context = ray.data.DataContext.get_current()
    # a batch lost to dying actors is run again image by image (run_on_ray); the other two are Ray 2.4x+ options
    for name, value in (("enable_progress_bars", False), ("print_on_execution_start", False),
                        ("max_errored_blocks", -1)):
        if hasattr(context, name):
            setattr(context, name, value)
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)


# ---------------------------------------------------------------- the job

def run_on_ray(
    todo: list[int],
    paths: list[str],
    *,
    model_path: Path,
    max_faces: int,
    workers: int | None,
    local_cpus: int,
    chunks_for: Callable[[list[int], int], list[list[int]]],
    on_chunk: ChunkDone,
    stop: threading.Event,
    address: str | None = None,
    task: Callable[[list[str]], list[Detected]] | None = None,
    mirror_view: str = "derive",
) -> int:
    """Detect the images `todo` (indices into `paths`) on Ray, `on_chunk` for each batch as it completes; return
    the actors used. `workers` actors (default and at most: the cluster's CPUs), one CPU each. `task` replaces
    the actors' batch function (detection.detect_chunk), as run_pool's does."""
    ray = import_ray()
    model = model_path.read_bytes()
    with ray_session(address, local_cpus) as cpus:
        actors = min(workers or cpus, cpus)
        chunks = chunks_for(todo, actors)
        actors = min(actors, max(1, len(chunks)))
        detector = {"model": model, "max_faces": max_faces, "task": task, "mirror_view": mirror_view}
        done = _detect_pass(ray, chunks, paths, detector, actors, on_chunk, stop)
        lost = [i for i in todo if i not in done]
        if lost and not stop.is_set():
            # Batches whose actors kept dying: alone, each image either succeeds or is the one that kills them.
            again = _detect_pass(ray, [[i] for i in lost], paths, detector, min(actors, len(lost)), on_chunk, stop)
            crashed = [i for i in lost if i not in again]
            if crashed and not again and len(crashed) >= MAX_CRASHES_IN_A_ROW and not stop.is_set():
                raise RayEngineError("Ray workers keep dying (out of memory?); finished images are saved: run again "
                                     "to resume, or with --engine local")
            if crashed and not stop.is_set():
                on_chunk(crashed, [Detected("error", CRASHED) for _ in crashed])
    return actors


def _detect_pass(ray, chunks, paths, detector, actors, on_chunk, stop) -> set[int]:  # noqa: ANN001
    """One Ray Data run over `chunks`; returns the indices whose results were handed to `on_chunk`."""
    # One row, and one block, per chunk: Ray Data gives a block to one task, so blocks are the unit of
    # parallelism and of saving. from_items builds them here; from_arrow would run a Ray task per block to read
    # its metadata, which costs a worker process (importing Ray Data) and 1-2 s before the first actor starts.
    items = [{"index": chunk, "path": [paths[i] for i in chunk]} for chunk in chunks]
    with warnings.catch_warnings():
        # max_task_retries has no named parameter in Ray 2.60, only the catch-all it deprecates for other options.
        warnings.filterwarnings("ignore", message=".*ray_remote_args. is deprecated")
        dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            Detector,
            fn_constructor_kwargs=detector,
            batch_size=1,
            batch_format="pyarrow",
            compute=_actor_pool(ray, actors),
            num_cpus=1,
            max_task_retries=TASK_RETRIES,
        )
    done: set[int] = set()
    batches = iter(dataset.iter_batches(batch_size=None, batch_format="pyarrow"))
    try:
        for batch in batches:
            indices, results = results_of(batch)
            fresh = [k for k, index in enumerate(indices) if index not in done]  # a retried batch may come twice
            if fresh:
                on_chunk([indices[k] for k in fresh], [results[k] for k in fresh])
                done.update(indices[k] for k in fresh)
            if stop.is_set():
                break
    except (EmotuiError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - Ray wraps what failed on a worker in its own exceptions
        raise RayEngineError(f"extraction on Ray failed: {_worker_reason(exc)}") from None
    finally:
        # Stopped early: shut the run's executor and actors down now, not when the generator is collected, so
        # that they free their CPUs for the next run on the same cluster.
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    return done


def _actor_pool(ray, actors: int):  # noqa: ANN001, ANN202
    """All the actors at once, but start on the first that is up (a fixed size would wait for every one, and a
    busy cluster may not have them all free); Ray before 2.4x has no initial_size and grows the pool itself."""
    try:
        return ray.data.ActorPoolStrategy(min_size=1, max_size=actors, initial_size=actors)
    except TypeError:
        return ray.data.ActorPoolStrategy(min_size=1, max_size=actors)


# ---------------------------------------------------------------- the actor

class Detector:
    """A Ray Data actor: one FaceLandmarker for its life, batches of (index, path) in, fixed-schema results out."""

    def __init__(self, model: bytes, max_faces: int, task: Callable[[list[str]], list[Detected]] | None,
                 mirror_view: str = "derive") -> None:
        self.landmarker = new_landmarker(_model_file(model), max_faces, mirror_view)
        use_landmarker(self.landmarker, max_faces)
        self.task = task or detect_chunk

    def __call__(self, batch):  # noqa: ANN001, ANN204 - pyarrow Tables: a chunk a row in, an image a row out
        indices = [i for chunk in batch.column("index").to_pylist() for i in chunk]
        paths = [p for chunk in batch.column("path").to_pylist() for p in chunk]
        results = self.task(paths)
        return results_table(indices, results)


def _model_file(model: bytes) -> Path:
    """The shipped model as a file on this worker (MediaPipe reads a path): one per content, shared by the actors
    of a node, written whole (temp file + rename) so that a concurrent actor never reads half of it."""
    import hashlib

    target = Path(tempfile.gettempdir()) / f"emotui-landmarker-{hashlib.sha256(model).hexdigest()[:16]}.task"
    if not target.is_file() or target.stat().st_size != len(model):
        fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".part", dir=target.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(model)
        os.replace(tmp, target)
    return target


def results_schema():  # noqa: ANN201 - a pyarrow schema; pyarrow is imported lazily
    """One row per image; the face columns hold a list per face (none when no face), as in emotui.data.schema."""
    import pyarrow as pa

    from .schema import BASE_SCHEMA

    faces = [pa.field(name, pa.list_(BASE_SCHEMA.field(name).type)) for name in FACE_COLUMNS]
    plain = [BASE_SCHEMA.field(name) for name in ("status", "error", "width", "height", "n_faces")]
    return pa.schema([pa.field("index", pa.int64()), *plain, *faces])


def results_table(indices: list[int], results: list[Detected]):  # noqa: ANN201
    import pyarrow as pa

    columns: dict[str, list] = {
        "index": indices,
        "status": [r.status for r in results],
        "error": [r.error for r in results],
        "width": [r.width for r in results],
        "height": [r.height for r in results],
        "n_faces": [r.n_faces for r in results],
    }
    for position, name in enumerate(FACE_COLUMNS):
        columns[name] = [[face[position] for face in r.faces] for r in results]
    return pa.Table.from_pydict(columns, schema=results_schema())


def results_of(table) -> tuple[list[int], list[Detected]]:  # noqa: ANN001
    import numpy as np

    rows = table.to_pydict()
    results = []
    for k in range(table.num_rows):
        faces = [tuple(value if value is None or isinstance(value, bytes) else np.asarray(value, dtype=np.float32)
                       for value in face)
                 for face in zip(*(rows[name][k] for name in FACE_COLUMNS))]
        results.append(Detected(rows["status"][k], rows["error"][k], rows["width"][k], rows["height"][k],
                                rows["n_faces"][k], faces))
    return rows["index"], results


# ---------------------------------------------------------------- errors

def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _worker_reason(exc: BaseException) -> str:
    """Ray's errors carry the worker's whole traceback; the last line names the cause. An actor that cannot import
    emotui or MediaPipe means the node lacks them."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    reason = lines[-1] if lines else type(exc).__name__
    if "ModuleNotFoundError" in reason or "No module named" in reason:
        reason += f" (every Ray node needs emotui installed, the same version: {RAY_EXTRA})"
    return reason
