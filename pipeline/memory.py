"""Giving freed memory back to the operating system after large pages; keeping a long-lived process's startup heap
out of the garbage collector's way.

glibc keeps freed heap memory in its arenas (one per thread that allocated, and model calls run on worker
threads), so a process's RSS stays at its peak long after a large page is done. ``malloc_trim(0)`` returns
the free pages of every arena. A no-op where the C library has no ``malloc_trim`` (musl, macOS).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    return None if trim is None else trim


def release_freed_memory() -> bool:
    """Return freed heap memory to the OS; True when the C library could."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


def freeze_startup_heap() -> int:
    """Move every object alive now out of the cyclic garbage collector's view (``gc.freeze``); returns how many.

    Called once a long-lived process (a replica, the ingress) has imported and built what it keeps for its life:
    its modules, models and app (the ingress imports docling, torch and transformers: millions of objects). Each
    full collection otherwise walks all of them again, and a conversion makes enough lasting objects (its pages'
    text, the graph) to trigger several (measured: ``build_graph`` of the corpus's 117-page thesis, 1.9 ms a page
    in a process that had imported what the ingress imports, 0.6 with that heap frozen). What a request makes
    afterwards is collected as before."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
