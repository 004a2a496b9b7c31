"""What the three panes share: running one core job in a thread worker and turning its end into UI state.

The thread calls the core function with `on_event` posting each event as a JobEvent message and `stop` set to the
worker's `cancelled_event`, so cancelling the worker (the key pressed again, or quitting) is what stops the job.
Widgets are touched only in message handlers, on the UI thread.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from textual import on
from textual.containers import Vertical
from textual.worker import Worker, WorkerState, get_current_worker

from ..errors import EmotuiError
from .heap import freeze_heap
from .jobs import Jobs
from .messages import JobEnded, JobEvent, PaneStatus, RunsDeferred


# Jobs yield the CPU to the UI thread: on a 2-core machine running extraction, training and the monitor at once,
# equal shares would leave keys waiting for hundreds of milliseconds.
JOB_NICENESS = 10


def lower_priority() -> int | None:
    """Lower the calling thread's CPU priority; returns the previous nice value (None when unchanged). On Linux
    the nice value is per thread, and the processes and threads a job starts (extraction workers, MediaPipe's and
    torch's threads) inherit it; elsewhere: no-op."""
    if sys.platform != "linux":
        return None
    try:
        tid = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, max(before, JOB_NICENESS))
        return before
    except OSError:
        return None


def restore_priority(before: int | None) -> None:
    """Thread workers run in a pool whose threads are reused: give the next job (an export, a chart) the thread
    at its old priority. Raising it back is allowed only to the soft RLIMIT_NICE; if refused, it stays low."""
    if before is None:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), before)
    except OSError:
        pass


def describe_error(error: BaseException | None) -> str:
    if isinstance(error, EmotuiError):
        return str(error)
    return f"{type(error).__name__}: {error}" if error else "unknown error"


class JobPane(RunsDeferred, Vertical):
    """A pane that owns one kind of long job (extract, train or watch)."""

    job_name = "job"

    def __init__(self, jobs: Jobs, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs = jobs
        self.job_done: threading.Event | None = None
        self.ended_at: float | None = None  # monotonic time the job's thread returned
        self.stopping = False
        self.headline = "idle"

    @property
    def running(self) -> bool:
        return self.job_done is not None and not self.job_done.is_set()

    def begin(self) -> threading.Event:
        self.job_done = threading.Event()
        self.stopping = False
        events = getattr(self.app, "job_events", None)
        if events is not None:  # the app waits for them (a little) before the process ends
            events.append(self.job_done)
        return self.job_done

    def stop_job(self) -> None:
        """Ask the job to stop at its next item; it keeps what it has done."""
        self.stopping = True
        self.workers.cancel_group(self, self.job_name)
        self.set_headline("stopping")

    def call_job(self, done: threading.Event, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs in the worker's thread."""
        worker = get_current_worker()
        before = lower_priority()
        unfrozen = True

        def on_event(event: Any) -> None:
            nonlocal unfrozen
            if unfrozen:  # by its first event the job has imported torch / mediapipe / pandas
                unfrozen = False
                freeze_heap()
            self.post_message(JobEvent(event))

        try:
            result = fn(*args, on_event=on_event, stop=worker.cancelled_event, **kwargs)
            self.post_message(JobEnded(result=result))
            return result
        except BaseException as exc:
            self.post_message(JobEnded(error=exc))
            raise
        finally:
            self.ended_at = time.monotonic()
            done.set()
            restore_priority(before)

    def set_headline(self, text: str) -> None:
        if text != self.headline:
            self.headline = text
            self.post_message(PaneStatus())

    @on(Worker.StateChanged)
    def _worker_state(self, message: Worker.StateChanged) -> None:
        if message.state == WorkerState.ERROR:
            self.notify(describe_error(message.worker.error), title=f"{self.job_name} failed",
                        severity="error", timeout=10)
