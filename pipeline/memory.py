"""Giving freed memory back to the operating system after large pages.

glibc keeps freed heap memory in its arenas (one per thread that allocated, and model calls run on worker
threads), so a process's RSS stays at its peak long after a large page is done. ``malloc_trim(0)`` returns
the free pages of every arena. A no-op where the C library has no ``malloc_trim`` (musl, macOS).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
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
