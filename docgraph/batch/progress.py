"""Progress of a batch run: a board the workers report pages to, the live line, the watchdog, the summary table.

The board is a small Ray actor (no CPU reserved) that every worker tells, fire and forget, when a document starts,
opens (its page count) and when each page has its outcome, so progress is seen per page, not only per document
(a 500-page document is minutes of work). The driver's monitor thread reads it once a second: the live line
(documents, pages/s, failures, in flight), and the watchdog: no page and no document finished for
``watchdog_s`` while work is outstanding says so loudly (stderr, the log at ERROR), names the documents in flight,
and the run records the stall (in the summary, and ``stalled`` on those documents' rows).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.outcome import PageOutcome
from pipeline.pdf import DocumentMeta
from pipeline.steps import Step

log = logging.getLogger("docgraph.batch")


class Board:
    """What the workers report (a Ray actor in a run; plain object in tests)."""

    def __init__(self) -> None:
        self.pages_done = 0
        self.pages_failed = 0
        self.last_progress = time.time()
        self.in_flight: dict[str, dict[str, Any]] = {}

    def started(self, source: str, worker: str) -> None:
        self.in_flight[source] = {"since": time.time(), "pages": None, "done": 0, "worker": worker}

    def opened(self, source: str, pages: int) -> None:
        if source in self.in_flight:
            self.in_flight[source]["pages"] = pages

    def page(self, source: str, failed: bool) -> None:
        self.pages_done += 1
        self.pages_failed += failed
        self.last_progress = time.time()
        if source in self.in_flight:
            self.in_flight[source]["done"] += 1

    def finished(self, source: str) -> None:
        self.in_flight.pop(source, None)
        self.last_progress = time.time()

    def snapshot(self) -> dict[str, Any]:
        return {
            "pages_done": self.pages_done,
            "pages_failed": self.pages_failed,
            "last_progress": self.last_progress,
            "in_flight": dict(self.in_flight),
        }


def start_board(name: str) -> Any:
    import ray

    # one call at a time, in the order each worker sent them (started before finished); each is microseconds
    board: Any = ray.remote(Board)
    return board.options(name=name, num_cpus=0, max_concurrency=1).remote()


def board_handle(name: str | None) -> Any:
    if name is None:
        return None
    import ray

    try:
        return ray.get_actor(name)
    except ValueError:
        log.warning("progress board %s not found: this worker's pages are not counted live", name)
        return None


class BoardProgress:
    """``pipeline.progress.ConvertProgress`` onto the board (fire and forget; never raises)."""

    def __init__(self, board: Any, source: str, worker: str = "") -> None:
        self._board = board
        self._source = source
        self._worker = worker

    def _tell(self, method: str, *args: object) -> None:
        if self._board is not None:
            with contextlib.suppress(Exception):
                getattr(self._board, method).remote(*args)

    def started(self) -> None:
        self._tell("started", self._source, self._worker)

    def finished(self) -> None:
        self._tell("finished", self._source)

    def opened(self, meta: DocumentMeta, page_nos: list[int]) -> None:
        self._tell("opened", self._source, len(page_nos))

    def step(self, page_no: int, step: Step) -> None:
        pass

    def page_done(self, outcome: PageOutcome) -> None:
        self._tell("page", self._source, outcome.status.value == "failed")


@dataclass
class Tally:
    """What the driver counts from the rows it receives."""

    started_at: float = field(default_factory=time.time)
    documents: int = 0
    complete: int = 0
    partial: int = 0
    failed: int = 0
    skipped: int = 0
    pages: int = 0  # pages converted by this run (from the rows: done documents)
    pages_failed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    stalls: list[dict[str, Any]] = field(default_factory=list)

    def count(self, row: Any) -> None:
        """A row this run converted (an ``IndexRow``)."""
        self.documents += 1
        self.pages += row.pages_converted
        self.pages_failed += row.pages_failed
        status = row.status.value
        if status == "complete":
            self.complete += 1
        elif status == "partial":
            self.partial += 1
        else:
            self.failed += 1
        if row.reason_code:
            self.reasons[row.reason_code] = self.reasons.get(row.reason_code, 0) + 1

    def elapsed(self) -> float:
        return time.time() - self.started_at


class Monitor:
    """The driver's thread: the live line and the watchdog, from the board and the tally, once a second."""

    def __init__(
        self,
        board: Any,
        tally: Tally,
        *,
        watchdog_s: float,
        show: Callable[[str], None],
        alarm: Callable[[str], None],
        interval_s: float = 1.0,
    ) -> None:
        self._board = board
        self.tally = tally
        self.watchdog_s = watchdog_s
        self._show = show
        self._alarm = alarm
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="docgraph-batch-monitor", daemon=True)
        self._window: deque[tuple[float, int]] = deque(maxlen=30)  # (time, pages done): the recent rate
        self.stalled_sources: set[str] = set()
        self._stall: dict[str, Any] | None = None
        self.last_row_at = time.time()
        self.snapshot: dict[str, Any] = {"pages_done": 0, "pages_failed": 0, "in_flight": {}, "last_progress": 0.0}

    def start(self) -> Monitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.tick(time.time())
            except Exception:  # the monitor must outlive a board that is slow to answer
                log.debug("monitor tick failed", exc_info=True)

    def _read_board(self) -> dict[str, Any]:
        if self._board is None:
            return self.snapshot
        if isinstance(self._board, Board):
            return self._board.snapshot()
        import ray

        snap: dict[str, Any] = ray.get(self._board.snapshot.remote(), timeout=10)
        return snap

    def tick(self, now: float) -> None:
        self.snapshot = snap = self._read_board()
        self._window.append((now, snap["pages_done"]))
        last = max(snap["last_progress"], self.last_row_at)
        idle = now - last
        if self.watchdog_s > 0 and idle >= self.watchdog_s:
            if self._stall is None:
                in_flight = snap["in_flight"]
                self._stall = {"at": now, "idle_s": round(idle, 1), "in_flight": sorted(in_flight)}
                self.stalled_sources.update(in_flight)
                self.tally.stalls.append(self._stall)
                described = (
                    "; ".join(
                        f"{src} ({v['done']}/{v['pages'] if v['pages'] is not None else '?'} pages, "
                        f"{now - v['since']:.0f} s, {v['worker']})"
                        for src, v in list(in_flight.items())[:10]
                    )
                    or "none reported (workers starting, dead, or waiting on Ray)"
                )
                self._alarm(
                    f"WATCHDOG: no progress for {idle:.0f} s (no page, no document finished); in flight: {described}"
                )
            else:
                self._stall["idle_s"] = round(idle, 1)
        elif self._stall is not None:
            self._alarm(f"progress again after {self._stall['idle_s']:.0f} s without any")
            self._stall = None
        self._show(self.line(now))

    def pages_per_s(self) -> float:
        if len(self._window) < 2:
            return 0.0
        (t0, p0), (t1, p1) = self._window[0], self._window[-1]
        return (p1 - p0) / (t1 - t0) if t1 > t0 else 0.0

    def line(self, now: float) -> str:
        t, snap = self.tally, self.snapshot
        elapsed = max(now - t.started_at, 1e-9)
        return (
            f"docgraph batch: {t.documents} documents ({t.complete} complete, {t.partial} partial, {t.failed} failed, "
            f"{t.skipped} skipped), {snap['pages_done']} pages, {self.pages_per_s():.1f} pages/s now "
            f"({snap['pages_done'] / elapsed:.1f} overall), {len(snap['in_flight'])} in flight, "
            f"{time.strftime('%H:%M:%S', time.gmtime(elapsed))}" + ("  [STALLED]" if self._stall else "")
        )
