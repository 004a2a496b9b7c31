"""Running the dashboard to its end: the process ends within EXIT_GRACE_SECONDS of the screen closing, whatever a
job's thread is still doing."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time

from textual.app import App

# After the screen is gone, how much longer a job's thread may take to finish (the training saving its model,
# extraction its last batches) before the process ends anyway, losing only the work in flight, as a kill would.
EXIT_GRACE_SECONDS = 1.5


def run_until_closed(app: App, job_events: list[threading.Event]) -> None:
    """App.run() would end with asyncio.run(), which waits for every thread of the loop's executor with no time
    limit, so a job thread slow to stop (MediaPipe on a starved CPU, a final save) kept the process alive."""
    from concurrent.futures import ThreadPoolExecutor

    loop = asyncio.new_event_loop()
    executor = ThreadPoolExecutor(thread_name_prefix="emotui-worker")
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(app.run_async())
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        executor.shutdown(wait=False, cancel_futures=True)
    if not finish_jobs(job_events, EXIT_GRACE_SECONDS):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(app.return_code or 0)  # the executor's threads would otherwise be joined at interpreter exit


def wait_all(events: list[threading.Event], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for event in events:
        event.wait(max(0.0, deadline - time.monotonic()))


def finish_jobs(events: list[threading.Event], timeout: float) -> bool:
    """Wait up to `timeout` seconds for the job threads; True when all have returned."""
    wait_all([e for e in events if not e.is_set()], timeout)
    return all(e.is_set() for e in events)
