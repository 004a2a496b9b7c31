"""The forkserver started early for a run that will need workers (emotui.data.pool.warm_up), in fresh processes."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from ..conftest import REPO

PROBE = """
import sys
from multiprocessing import forkserver
from emotui.data.pool import warm_up
warm_up(int(sys.argv[1]) or None)
print(forkserver._forkserver._forkserver_pid or 0, flush=True)
"""


def _server_after(workers: int) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, str(workers)], capture_output=True, text=True, cwd=REPO,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_a_run_with_workers_starts_its_forkserver_first_and_it_leaves_with_the_job():
    pid = _server_after(2)
    assert pid > 0
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, "the forkserver outlived the process that started it"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_one_worker_starts_no_server():
    assert _server_after(1) == 0
