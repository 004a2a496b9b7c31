"""When the cyclic garbage collector may walk the whole heap: while nobody is pressing keys.

Python starts a full collection on its own after enough allocations, and with torch, MediaPipe and pandas loaded it
walks ~2*10^5 objects for 100-150 ms while the UI thread waits: those were the dashboard's slowest key presses, idle
or busy. So the app turns the automatic full collection off while it runs and does it itself a moment after the
last key or mouse event (or, if input never pauses, every few minutes regardless). Young objects are still collected
as usual. After a full collection that follows new imports, the survivors (modules, weights) are frozen: nothing
dead is frozen at that instant, and the next full collections walk only what came since.
"""

from __future__ import annotations

import gc
import sys
import time

QUIET_SECONDS = 1.0  # no input for this long: a full collection now would not hold up a key
LONGEST_SECONDS = 300.0  # input that never pauses still gets a full collection this often
CHECK_SECONDS = 2.0  # how often the app asks (a timer callback)
NO_AUTOMATIC_FULL = 1_000_000  # generation-2 threshold: full collections only when `tick` runs them


def freeze_heap() -> None:
    """Move every object alive now out of the collector's reach; objects that die later are still freed by
    refcount. For moments when the heap has just grown by long-lived objects (a job's first event: it has imported
    torch / mediapipe / pandas)."""
    gc.freeze()


class HeapKeeper:
    def __init__(self, clock=time.monotonic) -> None:  # noqa: ANN001
        self.clock = clock
        self.last_input = self.last_full = clock()
        self.full_collections = 0
        self._modules = len(sys.modules)
        self._threshold: tuple[int, int, int] | None = None

    def start(self) -> None:
        freeze_heap()
        self._threshold = gc.get_threshold()
        young, middle, _ = self._threshold
        gc.set_threshold(young, middle, NO_AUTOMATIC_FULL)

    def stop(self) -> None:
        """Give the process back its own collector settings (tests run many apps in one process)."""
        if self._threshold is not None:
            gc.set_threshold(*self._threshold)
            self._threshold = None

    def input_seen(self) -> None:
        self.last_input = self.clock()

    def tick(self) -> bool:
        """Run a full collection if it is due and input has paused; True when it ran."""
        now = self.clock()
        if now - self.last_input < QUIET_SECONDS and now - self.last_full < LONGEST_SECONDS:
            return False
        if gc.get_count()[2] == 0 and now - self.last_full < LONGEST_SECONDS:
            return False  # nothing has reached the old generation since the last one
        gc.collect()
        self.last_full = self.clock()
        self.full_collections += 1
        if len(sys.modules) > self._modules:
            self._modules = len(sys.modules)
            freeze_heap()
        return True
