"""PyMuPDF in worker processes, shared fairly between documents, with deadlines that kill what overruns.

PyMuPDF is not thread-safe and its calls block, and a hostile page can hold one for a long time. So every
PyMuPDF call of a replica runs in one of ``workers`` processes (``pipeline/pdfworker.py``):

- **Fair share, room for light calls** (``pipeline/pdfshare.py``): a free worker takes the next call of the
  document that has had the least worker time so far; heavy calls (long renders, heavy documents) hold at most all
  workers but one; a document runs one call at a time until one of its page calls has ended.
- **Deadlines from the start.** A call's deadline (``timeout_s``) counts from the moment a worker takes it;
  waiting has its own bound (``queue_timeout_s``, then ``PdfWorkersBusyError``, HTTP 503 with Retry-After).
- **Overruns are killed.** A call past its deadline kills its process (``StepTimeoutError`` for that call
  only); a crashed process fails its call (``PdfWorkerCrashedError``). Either way a new process takes the
  slot, and other documents are opened again there from their bytes when they next need it: no other
  document loses anything.

The pool is driven from any event loop (or several: ``asyncio.run`` per call in the CLI and tests): its state
is guarded by a lock and each worker slot is served by a thread of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import PdfWorkerCrashedError, PdfWorkersBusyError, StepTimeoutError
from pipeline.geometry import BBox
from pipeline.options import Limits
from pipeline.page import PageGeometry, PageImage, TextLayer, TextLine
from pipeline.pdf import DocumentMeta, render_bytes
from pipeline.pdfprocess import START_TIMEOUT_S, WorkerProcess
from pipeline.pdfshare import FairShare
from pipeline.renderbudget import ByteBudget, Reservation
from pipeline.ruledtables import RuledTables
from pipeline.steps import Step
from pipeline.tablegrid import TableGrid

log = logging.getLogger("docgraph.pdfpool")

RENDER_COPIES = 2  # copies of a rendered page in the ingress while its models run (see reserve_render)
MAX_OPEN_PER_WORKER = 16  # documents a worker keeps open; the least recently used is closed first


@dataclass(slots=True, eq=False)  # compared by identity (queue removal)
class _Call:
    key: str
    step: Step
    timeout_s: float
    request: tuple[object, ...]
    doc: DocumentHandle | None
    long: bool = False  # known to be long before it runs (a render of over long_render_pixels)
    heavy: bool = False  # long, or its document was heavy when the call started
    started: concurrent.futures.Future[None] = field(default_factory=concurrent.futures.Future)
    done: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)


@dataclass(frozen=True, slots=True)
class PoolStatus:
    workers: int  # slots
    alive: int  # processes running and past their self-test
    busy: int  # calls running
    queued: int  # calls waiting
    restarts: int  # processes replaced (killed past a deadline, crashed)
    version: str | None  # PyMuPDF's, as a worker reported it
    error: str | None  # the last start failure, while no worker is alive

    @property
    def ready(self) -> bool:
        return self.alive > 0

    def describe(self) -> str:
        return (
            f"pymupdf {self.version or '?'}; pdf workers {self.alive}/{self.workers} alive, {self.busy} busy, "
            f"{self.queued} queued, {self.restarts} restarted" + (f"; {self.error}" if self.error else "")
        )


class PdfPool:
    def __init__(
        self,
        *,
        workers: int = 2,
        queue_timeout_s: float = 30.0,
        max_worker_rss: int = 1 << 30,
        max_render_bytes: int = 768 << 20,
        heavy_after_s: float = 2.0,
        long_call_s: float = 0.5,
        long_render_pixels: int = 12_000_000,
    ) -> None:
        self.queue_timeout_s = queue_timeout_s
        self.long_render_pixels = long_render_pixels  # a render of more pixels is a long call
        self.renders = ByteBudget(max_render_bytes)
        self.max_worker_rss = max_worker_rss  # a worker above it after a call is replaced: memory goes back
        self._workers = [WorkerProcess(slot) for slot in range(workers)]
        self._cond = threading.Condition()
        self._share: FairShare[_Call] = FairShare(workers, heavy_after_s=heavy_after_s, long_call_s=long_call_s)
        self._restarts = 0
        self._error: str | None = None
        self._closed = False
        self._closing: set[str] = set()  # documents closed by their callers, still open in some worker
        self._keys = itertools.count()
        self._threads = [
            threading.Thread(target=self._serve, args=(w,), name=f"pdfpool-{w.slot}", daemon=True)
            for w in self._workers
        ]
        for thread in self._threads:
            thread.start()

    @classmethod
    def for_limits(cls, limits: Limits) -> PdfPool:
        return cls(
            workers=limits.pdf_workers,
            queue_timeout_s=limits.queue_timeout_s,
            max_worker_rss=limits.pdf_worker_max_rss,
            max_render_bytes=limits.max_render_bytes,
            heavy_after_s=limits.pdf_heavy_after_s,
            long_call_s=limits.pdf_long_call_s,
            long_render_pixels=limits.pdf_long_render_pixels,
        )

    # -- the caller's side (any event loop) -------------------------------------------------------------

    async def open(self, data: bytes, *, limits: Limits, password: str | None) -> DocumentHandle:
        """Validate and open a document in a worker (``InvalidDocumentError`` family as ``open_document``)."""
        doc = DocumentHandle(self, f"{next(self._keys)}-{uuid.uuid4().hex[:8]}", data, limits, password)
        doc.meta = await self._submit(doc.key, Step.OPEN, limits.text_timeout_s, doc.open_request(), doc)
        return doc

    async def _submit(
        self,
        key: str,
        step: Step,
        timeout_s: float,
        request: tuple[object, ...],
        doc: DocumentHandle | None,
        *,
        long: bool = False,
    ) -> Any:
        call = _Call(key, step, timeout_s, request, doc, long)
        with self._cond:
            if self._closed:
                raise RuntimeError("the PDF worker pool is shut down")
            self._share.add(call)
            self._cond.notify()
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(call.started)), self.queue_timeout_s)
        except TimeoutError:
            if self._withdraw(call):
                raise PdfWorkersBusyError(
                    f"{step} waited {self.queue_timeout_s:g} s for a free PyMuPDF worker", step=step
                ) from None
        except asyncio.CancelledError:
            self._withdraw(call)  # a call already running finishes in its worker; its answer is dropped
            raise
        return await asyncio.wrap_future(call.done)

    def _withdraw(self, call: _Call) -> bool:
        """Take a call that has not started out of its queue; False when a worker took it already."""
        with self._cond:
            return self._share.withdraw(call)

    def wait_started(self, timeout_s: float = START_TIMEOUT_S) -> bool:
        """Block until every worker process has started (True), or ``timeout_s`` passed (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(w.alive for w in self._workers):
                return True
            time.sleep(0.05)
        return False

    def status(self) -> PoolStatus:
        with self._cond:
            alive = sum(w.alive for w in self._workers)
            version = next((w.version for w in self._workers if w.version), None)
            share = self._share
            return PoolStatus(len(self._workers), alive, share.busy, share.queued, self._restarts, version, self._error)

    def close_document(self, key: str) -> None:
        """Forget a document: workers that have it open close it before their next call (never fails)."""
        with self._cond:
            self._share.forget(key)
            if any(key in w.opened for w in self._workers):
                self._closing.add(key)

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        for worker in self._workers:
            worker.stop()

    # -- the workers' side (one thread per slot) --------------------------------------------------------

    def _take(self) -> _Call | None:
        with self._cond:
            while not self._closed and (call := self._share.take()) is None:
                self._cond.wait()
            if self._closed:
                return None
            assert call is not None
            call.started.set_result(None)
            return call

    def _serve(self, worker: WorkerProcess) -> None:
        try:
            self._ensure(worker)
        except Exception:
            log.exception("PyMuPDF worker %d did not start", worker.slot)
        while (call := self._take()) is not None:
            t0 = time.monotonic()
            try:
                self._ensure(worker)  # a replaced worker's start: neither this call's deadline nor its served time
                t0 = time.monotonic()
                result = self._execute(worker, call)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                with contextlib.suppress(concurrent.futures.InvalidStateError):  # the caller gave up
                    call.done.set_exception(exc)
            else:
                if worker.rss_bytes() > self.max_worker_rss:  # MuPDF's caches of a large document: let them go
                    self._replace(worker, f"resident memory {worker.rss_bytes() >> 20} MiB after {call.step}")
                with contextlib.suppress(concurrent.futures.InvalidStateError):
                    call.done.set_result(result)
            finally:
                took = time.monotonic() - t0
                with self._cond:
                    open_still = call.doc is not None and not call.doc.closed
                    self._share.finish(call, took, page_call=call.request[0] == "call", open_still=open_still)
                    self._cond.notify_all()  # a heavy document's turn, or a document's next call, may have come

    def _ensure(self, worker: WorkerProcess) -> None:
        if worker.alive:
            return
        worker.stop()
        try:
            worker.start()
        except Exception as exc:
            with self._cond:
                self._error = str(exc)
            raise
        with self._cond:
            self._error = None

    def _execute(self, worker: WorkerProcess, call: _Call) -> Any:
        deadline = time.monotonic() + call.timeout_s  # from the start of the call, not from its queueing
        try:
            for request in self._preamble(worker, call):
                self._send(worker, request, deadline)
            value = self._send(worker, call.request, deadline)
        except TimeoutError:
            self._replace(worker, f"{call.step} overran {call.timeout_s:g} s")
            raise StepTimeoutError(f"{call.step} took longer than {call.timeout_s:g} s", step=call.step) from None
        except (EOFError, OSError) as exc:
            self._replace(worker, f"crashed in {call.step}: {exc}")
            raise PdfWorkerCrashedError(
                f"the PDF reader crashed in {call.step} ({type(exc).__name__})", step=call.step
            ) from None
        return value

    def _send(self, worker: WorkerProcess, request: tuple[object, ...], deadline: float) -> Any:
        """One request to the worker; its open documents tracked; its failure raised."""
        op, key = request[0], str(request[1])
        if op == "close":
            with self._cond:
                worker.opened.pop(key, None)
        ok, value = worker.roundtrip(request, deadline)
        if not ok:
            raise value
        if op == "open":
            with self._cond:
                worker.opened[key] = None
        return value

    def _preamble(self, worker: WorkerProcess, call: _Call) -> list[tuple[object, ...]]:
        """What the worker does before ``call``: close the documents their callers closed (and the least
        recently used beyond ``MAX_OPEN_PER_WORKER``), and open ``call``'s document if it is not open there."""
        with self._cond:
            requests: list[tuple[object, ...]] = [("close", k) for k in worker.opened if k in self._closing]
            closing = {k for _, k in requests}
            self._closing = {k for k in self._closing if any(k in w.opened and w is not worker for w in self._workers)}
            if call.doc is not None and call.request[0] == "call":
                if call.key in worker.opened:
                    worker.opened.move_to_end(call.key)
                else:
                    keep = [k for k in worker.opened if k not in closing]
                    requests += [("close", k) for k in keep[: max(0, len(keep) - MAX_OPEN_PER_WORKER + 1)]]
                    requests.append(call.doc.open_request())
        return requests

    def _replace(self, worker: WorkerProcess, why: str) -> None:
        log.warning("PyMuPDF worker %d replaced: %s", worker.slot, why)
        worker.stop()
        with self._cond:
            self._restarts += 1


class DocumentHandle:
    """An opened document, served by the pool's workers; its methods mirror ``PdfDocument``'s page methods,
    each with its step's deadline (``Limits``)."""

    meta: DocumentMeta

    def __init__(self, pool: PdfPool, key: str, data: bytes, limits: Limits, password: str | None) -> None:
        self._pool, self.key, self.data, self.limits, self.password = pool, key, data, limits, password
        self.closed = False

    def open_request(self) -> tuple[object, ...]:
        return ("open", self.key, self.data, self.limits, self.password)

    @property
    def page_count(self) -> int:
        return self.meta.page_count

    async def _call(self, step: Step, timeout_s: float, method: str, *args: object, long: bool = False) -> Any:
        return await self._pool._submit(self.key, step, timeout_s, ("call", self.key, method, args), self, long=long)

    async def read_page(self, page_no: int) -> tuple[PageGeometry, TextLayer]:
        """The page's geometry and text layer, in one call."""
        result: tuple[PageGeometry, TextLayer] = await self._call(
            Step.TEXT, self.limits.text_timeout_s, "read_page", page_no
        )
        return result

    async def geometry(self, page_no: int) -> PageGeometry:
        result: PageGeometry = await self._call(Step.TEXT, self.limits.text_timeout_s, "geometry", page_no)
        return result

    async def text_layer(self, page_no: int) -> TextLayer:
        result: TextLayer = await self._call(Step.TEXT, self.limits.text_timeout_s, "text_layer", page_no)
        return result

    async def words(self, page_no: int) -> list[TextLine]:
        """The page's words with boxes (content space), for ``detail=words``."""
        result: list[TextLine] = await self._call(Step.TEXT, self.limits.text_timeout_s, "words", page_no)
        return result

    async def tables(self, page_no: int, clips: list[BBox]) -> list[TableGrid | None]:
        """Table structure inside each clip (content space): ``find_tables`` in a worker."""
        result: list[TableGrid | None] = await self._call(
            Step.TABLES, self.limits.text_timeout_s, "tables", page_no, clips
        )
        return result

    async def ruled_tables(self, page_no: int, turns: int = 0) -> RuledTables:
        """Every ruled table of the page (content space), read cell for cell in a worker."""
        result: RuledTables = await self._call(Step.TABLES, self.limits.text_timeout_s, "ruled_tables", page_no, turns)
        return result

    async def reserve_render(self, geometry: PageGeometry, dpi: int, max_side: int | None = None) -> Reservation:
        """Room in the replica's render budget for this page's image (waits, within ``limits.render_wait_s``):
        twice its size, since it exists twice in the ingress while its models run (the array unpickled from the
        worker, and its copy in Ray's object store)."""
        nbytes = RENDER_COPIES * render_bytes(geometry, dpi, self.limits, max_side)
        return await self._pool.renders.reserve(nbytes, self.limits.render_wait_s)

    async def render(
        self, page_no: int, dpi: int, max_side: int | None = None, *, geometry: PageGeometry | None = None
    ) -> tuple[PageImage, str | None]:
        """The page rendered at ``dpi`` (at most ``max_side`` pixels on its longer side when given). With the page's
        ``geometry``, a render of over the pool's ``long_render_pixels`` is known to be long before it runs."""
        pixels = 0 if geometry is None else render_bytes(geometry, dpi, self.limits, max_side) // 3
        result: tuple[PageImage, str | None] = await self._call(
            Step.RENDER,
            self.limits.render_timeout_s,
            "render",
            page_no,
            dpi,
            max_side,
            long=pixels > self._pool.long_render_pixels,
        )
        return result

    async def render_display_png(self, page_no: int, dpi: int) -> tuple[bytes, float]:
        result: tuple[bytes, float] = await self._call(
            Step.ANNOTATE, self.limits.render_timeout_s, "render_display_png", page_no, dpi
        )
        return result

    def close(self) -> None:
        """Never fails and never waits: the workers close it before their next call."""
        self.closed = True
        self._pool.close_document(self.key)
        self.data = b""
