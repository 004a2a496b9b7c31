"""Worker processes for extraction: feeding batches, draining them on stop, and isolating images that crash a worker.

If MediaPipe (or the memory limit) kills a worker, every batch in flight is lost with the pool. Those images are
retried one at a time, alone in a fresh pool, so the image that kills a worker again is found, recorded with
status "error", and the run goes on: one bad file cannot stop a dataset, nor every later run that resumes it.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from .detection import Detected, detect_chunk, init_worker, run_batch, start_worker
from ..errors import EmotuiError

CRASHED = "the worker process died on this image (a crash in MediaPipe or out of memory)"
# Consecutive images that each kill a worker on their own: beyond this, the workers themselves are broken.
MAX_CRASHES_IN_A_ROW = 3

ChunkDone = Callable[[list[int], list[Detected]], None]


def _context() -> multiprocessing.context.BaseContext:
    # forkserver: workers never inherit the threads of the caller (the dashboard calls this from a thread).
    # Workers re-import the caller's main module, as with any multiprocessing: scripts need `if __name__ == ...`.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        # The server imports MediaPipe once; every worker forked from it starts with it loaded (emotui.data.detection
        # first: through the landmarker it keeps mediapipe's drawing helpers lazy, emotui.data.mediapipe_import).
        # emotui.data.worker_start first: it takes the current directory off the server's sys.path.
        # psutil: each worker's orphan watch (detection._exit_when_orphaned).
        context.set_forkserver_preload(["emotui.data.worker_start", "emotui.data.detection",
                                        "mediapipe.tasks.python.vision", "cv2", "psutil"])
    return context


def cpu_count() -> int:
    """The cores this process may run on (its affinity, which a container or taskset narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def warm_up(workers: int | None) -> None:
    """Start the forkserver now, for a run that will need workers: its imports (~0.2 s: numpy, OpenCV, MediaPipe)
    then overlap what the job does first (emotui's own imports, reading the dataset, the plan) instead of
    delaying the first batch. Idempotent, and harmless if no pool follows: the server leaves with this process."""
    if (workers or cpu_count()) == 1:
        return
    if _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def run_pool(
    chunks: list[list[int]],
    paths: list[str],
    *,
    model_path: str,
    max_faces: int,
    workers: int,
    on_chunk: ChunkDone,
    stop: threading.Event,
    task: Callable[[list[str]], list[Detected]] = detect_chunk,
    initializer: Callable[..., None] = init_worker,
    mirror_view: str = "derive",
) -> None:
    """Run `task` over the chunks (lists of indices into `paths`) in `workers` processes; at most two batches in
    flight per worker. The first Ctrl-C (KeyboardInterrupt) stops feeding and waits for the batches in flight,
    then re-raises; `stop` does the same without raising. A worker that cannot start (its `initializer` fails:
    the landmarker cannot be created, an import fails) stops the run with a one-line WorkerStartError."""
    # (chunk, isolated): isolated chunks hold one suspect image and run alone.
    queue: deque[tuple[list[int], bool]] = deque((chunk, False) for chunk in chunks)
    interrupted = False
    crashes_in_a_row = 0

    def refill(pool: ProcessPoolExecutor, pending: dict[Future, tuple[list[int], bool]]) -> None:
        while queue and not stop.is_set() and not interrupted:
            chunk, isolated = queue[0]
            if (isolated and pending) or len(pending) >= 2 * workers:
                return
            queue.popleft()
            pending[pool.submit(run_batch, task, [paths[i] for i in chunk])] = (chunk, isolated)
            if isolated:
                return

    while queue and not stop.is_set() and not interrupted:
        pending: dict[Future, tuple[list[int], bool]] = {}
        with ProcessPoolExecutor(workers, mp_context=_context(), initializer=start_worker,
                                 initargs=(initializer, model_path, max_faces, os.getpid(), mirror_view)) as pool:
            try:
                refill(pool, pending)
                while pending:
                    try:
                        done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    except KeyboardInterrupt:
                        if interrupted:
                            raise
                        interrupted = True
                        continue
                    for future in done:
                        results = future.result()  # BrokenProcessPool leaves the future in `pending`
                        chunk, isolated = pending.pop(future)
                        on_chunk(chunk, results)
                        crashes_in_a_row = 0 if isolated else crashes_in_a_row
                    refill(pool, pending)
            except BrokenProcessPool:
                for future, (chunk, isolated) in list(pending.items()):
                    if future.done() and future.exception() is None:  # finished before the crash: keep it
                        on_chunk(chunk, future.result())
                    elif isolated:  # it ran alone, so this image is what killed the worker
                        crashes_in_a_row += 1
                        if crashes_in_a_row >= MAX_CRASHES_IN_A_ROW:
                            raise EmotuiError(
                                "worker processes keep dying (out of memory?); finished images are saved: "
                                "run again with --workers 1 to resume"
                            ) from None
                        on_chunk(chunk, [Detected("error", CRASHED)])
                    else:
                        queue.extendleft(([index], True) for index in reversed(chunk))
    if interrupted:
        raise KeyboardInterrupt
