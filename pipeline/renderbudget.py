"""The replica's budget of rendered page images in flight, in bytes (``Limits.max_render_bytes``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections import deque

from pipeline.errors import RenderBudgetBusyError
from pipeline.steps import Step


class ByteBudget:
    """Bytes of rendered page images in flight, reserved before a render and released once its page is done.

    Waiters are served in order of arrival (a large page is not starved by small ones); a reservation larger
    than the whole budget is cut to it, so such a page renders alone. Safe from any thread and event loop.
    """

    def __init__(self, total: int) -> None:
        self.total = self.free = total
        self._lock = threading.Lock()
        self._waiting: deque[tuple[int, concurrent.futures.Future[None]]] = deque()

    async def reserve(self, nbytes: int, timeout_s: float, *, step: Step = Step.RENDER) -> Reservation:
        want = min(nbytes, self.total)
        with self._lock:
            if not self._waiting and self.free >= want:
                self.free -= want
                return Reservation(self, want)
            granted: concurrent.futures.Future[None] = concurrent.futures.Future()
            self._waiting.append((want, granted))
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(granted)), timeout_s)
        except TimeoutError:
            if self._withdraw(want, granted):
                raise RenderBudgetBusyError(
                    f"no room for a {want >> 20} MiB page image within {timeout_s:g} s "
                    f"({self.total >> 20} MiB of renders in flight)",
                    step=step,
                ) from None
        except asyncio.CancelledError:
            if not self._withdraw(want, granted):
                self.release(want)  # granted as we were cancelled: give it back
            raise
        return Reservation(self, want)

    def _withdraw(self, want: int, granted: concurrent.futures.Future[None]) -> bool:
        with self._lock:
            if (want, granted) in self._waiting:
                self._waiting.remove((want, granted))
                return True
            return False

    def release(self, nbytes: int) -> None:
        with self._lock:
            self.free += nbytes
            while self._waiting and self._waiting[0][0] <= self.free:
                want, granted = self._waiting.popleft()
                self.free -= want
                granted.set_result(None)


class Reservation:
    def __init__(self, budget: ByteBudget, nbytes: int) -> None:
        self._budget, self.nbytes = budget, nbytes

    def release(self) -> None:
        """Idempotent."""
        if self.nbytes:
            self._budget.release(self.nbytes)
            self.nbytes = 0
