"""Which waiting PyMuPDF call a free worker takes next: the policy of ``pipeline/pdfpool.py`` (which runs them).

- **Fair share.** Calls wait in one queue per document; the next call is the one of the document that has had the
  least worker time so far (least attained service), so a light document's calls go ahead of a heavy one's
  backlog: it waits for calls already running, never for the heavy document's queue.
- **Room for light calls.** A call is heavy when it is known to be long before it runs (a render of many pixels),
  or when its document is heavy: past ``heavy_after_s`` of worker time, or one of its calls took over
  ``long_call_s``. Heavy calls hold at most all workers but one at once: one stays free for the rest, so a light
  page never waits for a long call (a call is never preempted).
- **Slow start.** A document runs one call at a time until one of its page calls has ended (how long its calls
  take is then known): a hostile document's first pages cannot fill every worker before it is known to be heavy.

Not thread-safe: the pool holds its lock around every method.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, Protocol, TypeVar


class Shared(Protocol):
    key: str  # the document's
    long: bool  # known to be long before it runs
    heavy: bool  # set when it is taken


CallT = TypeVar("CallT", bound=Shared)


class FairShare(Generic[CallT]):
    def __init__(self, workers: int, *, heavy_after_s: float, long_call_s: float) -> None:
        self.workers = workers
        self.heavy_after_s = heavy_after_s  # past this much worker time a document is heavy
        self.long_call_s = long_call_s  # a document one of whose calls took longer is heavy
        self.busy = 0  # calls running
        self._heavy_busy = 0  # heavy calls running
        self._queues: dict[str, deque[CallT]] = {}  # documents with calls waiting, in order of arrival
        self._served: dict[str, float] = {}  # worker seconds each open document has had
        self._longest: dict[str, float] = {}  # each open document's longest call so far
        self._proven: set[str] = set()  # documents one of whose page calls has ended
        self._running: dict[str, int] = {}  # calls running per document

    @property
    def queued(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def served(self, key: str) -> float:
        return self._served.get(key, 0.0)

    def add(self, call: CallT) -> None:
        self._queues.setdefault(call.key, deque()).append(call)

    def withdraw(self, call: CallT) -> bool:
        """Take a call that has not started out of its queue; False when a worker took it already."""
        queue = self._queues.get(call.key)
        if queue is None or call not in queue:
            return False
        queue.remove(call)
        if not queue:
            del self._queues[call.key]
        return True

    def take(self) -> CallT | None:
        """The next call to run (counted as running), or None while none may start."""
        heavy_room = self._heavy_busy < max(1, self.workers - 1)
        keys = [
            k
            for k, queue in self._queues.items()
            if (k in self._proven or not self._running.get(k)) and (heavy_room or not self._heavy(queue[0]))
        ]
        if not keys:
            return None
        key = min(keys, key=self.served)  # ties: the earliest to arrive (dicts keep insertion order)
        queue = self._queues[key]
        call = queue.popleft()
        if not queue:
            del self._queues[key]
        call.heavy = self._heavy(call)
        self._heavy_busy += call.heavy
        self._running[key] = self._running.get(key, 0) + 1
        self.busy += 1
        return call

    def finish(self, call: CallT, took_s: float, *, page_call: bool, open_still: bool) -> None:
        """``call`` ended after ``took_s``; what it took counts for its document while that is open."""
        self.busy -= 1
        self._heavy_busy -= call.heavy
        if (running := self._running.pop(call.key) - 1) > 0:
            self._running[call.key] = running
        if open_still:
            self._served[call.key] = self._served.get(call.key, 0.0) + took_s
            self._longest[call.key] = max(self._longest.get(call.key, 0.0), took_s)
            if page_call:
                self._proven.add(call.key)

    def forget(self, key: str) -> None:
        """A document was closed: its worker time and what is known of its calls go."""
        self._served.pop(key, None)
        self._longest.pop(key, None)
        self._proven.discard(key)

    def _heavy(self, call: CallT) -> bool:
        key = call.key
        return call.long or self.served(key) > self.heavy_after_s or self._longest.get(key, 0.0) > self.long_call_s
