"""``pipeline.memory.freeze_startup_heap``: what is alive when a replica has started is out of the collector's walks;
what is made afterwards is still collected (a request's reference cycles do not leak)."""

from __future__ import annotations

import gc
import weakref

from pipeline.memory import freeze_startup_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_the_startup_heap_is_frozen_and_later_cycles_are_still_collected() -> None:
    kept = _Node()
    try:
        frozen = freeze_startup_heap()
        # (a frozen object that another thread lets go leaves the frozen set: the count can only fall from here)
        assert frozen > 0 and 0 < gc.get_freeze_count() <= frozen
        assert gc.is_tracked(kept)
        later = _Node()
        ref = weakref.ref(later)
        del later
        gc.collect()
        assert ref() is None  # made after the freeze: collected as before
    finally:
        gc.unfreeze()  # the rest of the test session's objects back in the collector's view
