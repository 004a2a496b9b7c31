"""How the dashboard shares the interpreter with its jobs: full garbage collections off while keys come (run by
the app once input pauses), and GIL slices long enough for a repaint."""

from __future__ import annotations

import gc
import sys
import weakref

import pytest

from emotui.tui import heap
from emotui.tui.app import GIL_SLICE_SECONDS, EmotuiApp, Settings
from emotui.tui.standins import StandIns

from ..conftest import DATASETS
from ..tui_helpers import run


class Cycle:
    def __init__(self) -> None:
        self.me = self


def _old_cycle() -> weakref.ref:
    """A garbage cycle that has reached the oldest generation, where only a full collection finds it."""
    thing = Cycle()
    gc.collect(1)  # young collections move the live object on to generation 2
    ref = weakref.ref(thing)
    del thing
    gc.collect(0)
    gc.collect(1)
    return ref


def test_full_collection_waits_for_a_pause_in_input_and_settings_come_back():
    before, slice_before = gc.get_threshold(), sys.getswitchinterval()

    async def scenario() -> None:
        app = EmotuiApp(Settings(data=DATASETS / "kaggle-layout-sample", source="clip.mp4"), jobs=StandIns().jobs())
        async with app.run_test(size=(120, 40)) as pilot:
            assert gc.get_threshold()[2] == heap.NO_AUTOMATIC_FULL  # Python starts none on its own
            assert sys.getswitchinterval() == pytest.approx(GIL_SLICE_SECONDS)
            now = [app.heap.clock()]
            app.heap.clock = lambda: now[0]
            await pilot.press("2")
            assert app.heap.last_input == now[0]  # a key press counts as input

            ref = _old_cycle()
            assert ref() is not None  # young collections do not reach it
            now[0] += heap.QUIET_SECONDS / 2
            assert not app.heap.tick() and ref() is not None  # keys came a moment ago: not now
            now[0] += heap.QUIET_SECONDS
            assert app.heap.tick() and ref() is None  # input paused: the app collected it
            assert app.heap.full_collections == 1

            ref = _old_cycle()
            app.heap.input_seen()
            now[0] += heap.LONGEST_SECONDS
            assert app.heap.tick() and ref() is None  # input that never pauses does not put it off for ever
        assert gc.get_threshold() == before
        assert sys.getswitchinterval() == slice_before

    run(scenario())


def test_a_collection_after_new_imports_freezes_the_survivors():
    now = [1000.0]
    keeper = heap.HeapKeeper(clock=lambda: now[0])
    now[0] += heap.QUIET_SECONDS
    frozen = gc.get_freeze_count()
    sys.modules["emotui_test_new_module"] = type(sys)("emotui_test_new_module")  # as an import would
    try:
        gc.collect(1)
        gc.collect(1)  # the old generation has something new: a collection is due
        assert keeper.tick()
        assert gc.get_freeze_count() > frozen
        assert not keeper.tick()  # nothing new reached the old generation since
    finally:
        del sys.modules["emotui_test_new_module"]
