"""One thread per process for every PyMuPDF call, with deadlines.

PyMuPDF is not thread-safe, and its calls block: running them on the event loop would stall every other
request. ``PdfWorker`` runs them, one at a time, on a dedicated thread; ``run`` gives each call a deadline
(``StepTimeoutError`` when it passes). A call that hangs in C cannot be interrupted, so the worker reports how
long its current call has run: the Serve ingress fails its health check past a bound and is replaced.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from pipeline.errors import StepTimeoutError
from pipeline.steps import Step

P = ParamSpec("P")
T = TypeVar("T")


class PdfWorker:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pymupdf")
        self._lock = threading.Lock()
        self._busy_since: float | None = None

    async def run(self, step: Step, timeout_s: float, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._timed, fn, args, kwargs)
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError as exc:
            raise StepTimeoutError(f"{step} took longer than {timeout_s:g} s", step=step) from exc

    def _timed(self, fn: Callable[..., T], args: tuple[object, ...], kwargs: dict[str, object]) -> T:
        with self._lock:
            self._busy_since = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            with self._lock:
                self._busy_since = None

    def busy_for(self) -> float:
        """Seconds the current call has been running (0 when idle)."""
        with self._lock:
            return 0.0 if self._busy_since is None else time.monotonic() - self._busy_since

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
