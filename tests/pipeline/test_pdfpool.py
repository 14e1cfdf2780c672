"""The PyMuPDF worker pool: documents share it fairly, a deadline starts when a worker takes the call, a call
past it kills its process without hurting other documents, and waiting for a worker has its own bound.

Real worker processes and real PyMuPDF; the slow work is pages that draw 25,000 images (~0.3 s to read) or 100,000
(~1 s). Where a test needs a call to outlast a bound, the call takes several times the bound (faster PyMuPDF or a
faster machine must not flip it), and a backlog that has to outlast the test is cancelled at its end rather than
awaited."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence

import numpy as np
import pymupdf
import pytest

from docgraph.local import LocalConverter, LocalModels
from docgraph.samples import make_many_draws_pdf, make_text_pdf
from pipeline import ConvertOptions, Limits, PdfPool, pdfwire
from pipeline.convert import Conversion, convert_bytes
from pipeline.errors import PdfWorkersBusyError, RenderBudgetBusyError, StepTimeoutError
from pipeline.graph import DocumentStatus, PageStatus
from pipeline.page import PageImage
from pipeline.renderbudget import ByteBudget
from pipeline.steps import Step

HEAVY = make_many_draws_pdf(25_000, pages=6)  # every page over the primitive cap: partial, ~0.35 s of PyMuPDF each


@functools.cache
def slow_pdf(pages: int = 1) -> bytes:
    """Pages of 100,000 draws: ~1 s of PyMuPDF each, over the primitive cap (partial)."""
    return make_many_draws_pdf(100_000, pages=pages)


async def cancelled(backlog: Sequence[asyncio.Task[object]]) -> None:
    """End a backlog: calls not started leave the queue, a running one finishes in its worker unheard."""
    for task in backlog:
        task.cancel()
    await asyncio.gather(*backlog, return_exceptions=True)


@pytest.fixture
def pool() -> Iterator[PdfPool]:
    pool = PdfPool(workers=1, queue_timeout_s=60)
    yield pool
    pool.shutdown()


def test_a_light_document_is_not_stuck_behind_a_heavy_one(pool: PdfPool) -> None:
    """One worker, a heavy document with 6 slow pages in flight, a light one sent after it: round-robin turns
    let the light one finish while the heavy one still has pages to go."""
    finished: list[str] = []
    no_models = LocalModels(layout=None, ocr=None)
    opts = ConvertOptions(layout=False)

    async def convert(name: str, data: bytes) -> DocumentStatus:
        result = await convert_bytes(data, pool=pool, models=no_models, options=opts, limits=Limits())
        finished.append(name)
        return result.graph.status

    async def both() -> tuple[DocumentStatus, DocumentStatus]:
        heavy = asyncio.create_task(convert("heavy", HEAVY))
        await asyncio.sleep(0.3)  # the heavy document's pages are queued first
        light = await convert("light", make_text_pdf(3))
        return await heavy, light

    heavy_status, light_status = asyncio.run(both())
    assert finished == ["light", "heavy"]
    assert light_status is DocumentStatus.COMPLETE
    assert heavy_status is DocumentStatus.PARTIAL  # over the primitive cap, and says so


def test_a_deadline_counts_from_the_start_and_an_overrun_kills_only_its_call(pool: PdfPool) -> None:
    async def run() -> None:
        heavy = await pool.open(slow_pdf(), limits=Limits(text_timeout_s=0.1), password=None)
        light = await pool.open(make_text_pdf(2), limits=Limits(text_timeout_s=0.3), password=None)
        assert (await light.text_layer(1)).blocks
        # queued behind a ~1 s call: its own deadline (0.3 s) only starts when the worker takes it
        slow_doc = await pool.open(slow_pdf(), limits=Limits(text_timeout_s=30), password=None)
        queued = asyncio.create_task(slow_doc.text_layer(1))
        await asyncio.sleep(0.05)
        waited = time.monotonic()
        assert (await light.text_layer(2)).blocks  # a few ms of work, after ~1 s in the queue: not timed out
        assert time.monotonic() - waited > 0.3  # it did wait longer than its deadline
        assert (await queued).warnings
        with pytest.raises(StepTimeoutError) as info:
            await heavy.text_layer(1)  # ~1 s, past 0.1 s: its worker is killed
        assert info.value.context["step"] is Step.TEXT
        # the light document was open in the killed process: it is opened again in the new one, whose start (a
        # process importing PyMuPDF, ~0.3 s) counts neither against the call's 0.3 s nor as the document's time
        served, t0 = pool._share.served(light.key), time.monotonic()
        assert (await light.text_layer(1)).blocks
        elapsed = time.monotonic() - t0
        while pool.status().busy:  # noqa: ASYNC110 - the worker thread books the call just after answering it
            await asyncio.sleep(0.01)
        assert 0 < pool._share.served(light.key) - served < elapsed / 2
        status = pool.status()
        assert status.restarts == 1 and status.alive == 1 and status.ready

    asyncio.run(run())


def test_waiting_for_a_worker_is_bounded() -> None:
    pool = PdfPool(workers=1, queue_timeout_s=0.2)
    assert pool.wait_started()
    try:

        async def run() -> None:
            heavy = await pool.open(slow_pdf(), limits=Limits(), password=None)
            busy = asyncio.create_task(heavy.text_layer(1))  # ~1 s: holds the worker well past 0.05 + 0.2 s
            await asyncio.sleep(0.05)
            with pytest.raises(PdfWorkersBusyError):
                await pool.open(make_text_pdf(1), limits=Limits(), password=None)
            assert (await busy).warnings  # the call that held the worker still finished
            assert pool.status().queued == 0  # the refused call left the queue

        asyncio.run(run())
    finally:
        pool.shutdown()


def test_closing_never_fails_and_a_closed_document_is_closed_in_its_worker(pool: PdfPool) -> None:
    async def run() -> None:
        doc = await pool.open(make_text_pdf(1), limits=Limits(), password=None)
        doc.close()
        doc.close()  # twice: still nothing raised
        other = await pool.open(make_text_pdf(1), limits=Limits(), password=None)
        assert (await other.geometry(1)).width > 0
        assert pool._workers[0].opened.keys() == {other.key}  # the first was closed before the next call

    asyncio.run(run())


def test_a_page_whose_step_overruns_fails_alone(pool: PdfPool) -> None:
    """A document with a light page and a slow one under a tight text deadline: the slow page fails with
    step_timeout (its worker replaced), the light page converts, the document is partial, not an error."""
    mixed = pymupdf.open(stream=make_text_pdf(1))
    # ~1 s of PyMuPDF against a 0.3 s deadline (25,000 draws, ~0.35 s since the text layer reads one record of the
    # page, sometimes finished in time); the light page takes ~3 ms
    mixed.insert_pdf(pymupdf.open(stream=slow_pdf()))
    limits = Limits(text_timeout_s=0.3)
    no_models = LocalModels(layout=None, ocr=None)

    async def run() -> Conversion:
        opts = ConvertOptions(layout=False)
        return await convert_bytes(mixed.tobytes(), pool=pool, models=no_models, options=opts, limits=limits)

    graph = asyncio.run(run()).graph
    assert graph.status is DocumentStatus.PARTIAL
    light, slow = graph.pages
    assert light.status is PageStatus.OK and graph.page_blocks(1)
    assert slow.status is PageStatus.FAILED
    assert slow.error is not None and slow.error.code == "step_timeout" and slow.error.step is Step.TEXT


def test_a_worker_over_its_memory_bound_is_replaced_after_its_call() -> None:
    pool = PdfPool(workers=1, max_worker_rss=1)  # every worker is "too big" after any call
    try:

        async def run() -> None:
            doc = await pool.open(make_text_pdf(2), limits=Limits(), password=None)
            assert (await doc.text_layer(1)).blocks  # opened again in the replacement worker
            assert (await doc.text_layer(2)).blocks

        asyncio.run(run())
        assert pool.status().restarts >= 3  # after the open and each call
    finally:
        pool.shutdown()


def test_the_render_budget_admits_in_order_and_bounds_the_wait() -> None:
    async def run() -> None:
        budget = ByteBudget(100)
        first = await budget.reserve(60, 1.0)
        waiting = asyncio.create_task(budget.reserve(60, 5.0))
        await asyncio.sleep(0.05)
        assert not waiting.done() and budget.free == 40  # no room: it waits
        with pytest.raises(RenderBudgetBusyError):
            await budget.reserve(30, 0.05)  # behind the waiter (order of arrival), past its bound
        first.release()
        second = await waiting  # admitted once the first page was done
        first.release()  # idempotent
        assert budget.free == 40
        second.release()
        whole = await budget.reserve(10_000, 0.1)  # larger than the budget: cut to it, the page renders alone
        assert whole.nbytes == 100 and budget.free == 0
        whole.release()

    asyncio.run(run())


@pytest.mark.models  # the layout model reads every page
def test_pages_wait_for_room_in_a_small_render_budget() -> None:
    """A budget smaller than one page (YOLO needs every page rendered): every page still renders, one at a
    time, and all of the budget is returned."""
    converter = LocalConverter(limits=Limits(max_render_bytes=1 << 20), ocr=None)
    try:
        graph = converter.convert_sync(make_text_pdf(4))
        assert graph.status is DocumentStatus.COMPLETE
        assert all(Step.RENDER in p.route and Step.LAYOUT in p.route for p in graph.pages)
        assert converter.pool.renders.free == converter.pool.renders.total
    finally:
        converter.close()


def test_heavy_documents_leave_one_worker_free() -> None:
    """Two workers, two documents past heavy_after_s with a backlog of slow calls: they hold one worker between
    them, and a light document that comes along is served at once on the other."""
    pool = PdfPool(workers=2, heavy_after_s=0.5)
    assert pool.wait_started()
    try:

        async def run() -> None:
            heavies = [await pool.open(slow_pdf(6), limits=Limits(), password=None) for _ in range(2)]
            # 12 calls of ~1 s: after each document's first call (past 0.5 s) ~10 s on one worker, beyond the ~1 s
            # of samples below; what is left is cancelled at the end
            backlog = [asyncio.create_task(doc.text_layer(n)) for n in range(1, 7) for doc in heavies]
            for _ in range(400):  # until both have had their 0.5 s (at most 20 s)
                if all(pool._share.served(doc.key) > 0.5 for doc in heavies):
                    break
                await asyncio.sleep(0.05)
            assert all(pool._share.served(doc.key) > 0.5 for doc in heavies)
            # both heavy now: once the calls taken before they were have finished, one worker between them
            busy: list[int] = []
            for _ in range(300):  # at most 30 s, until one worker has served them alone for 1 s
                busy.append(pool.status().busy)
                if busy[-10:] == [1] * 10:
                    break
                await asyncio.sleep(0.1)
            assert busy[-10:] == [1] * 10, busy
            assert pool.status().queued > 0  # the backlog is still there: the other worker was kept free
            light = await pool.open(make_text_pdf(1), limits=Limits(), password=None)
            assert (await light.text_layer(1)).blocks
            assert pool.status().queued > 0  # the light document was served while the heavy backlog waited
            await cancelled(backlog)

        asyncio.run(run())
    finally:
        pool.shutdown()


def test_one_long_call_makes_a_document_heavy_at_once() -> None:
    """Two workers, worker time far from heavy_after_s: a hostile document's first page runs alone (a document runs
    one call until one of its page calls has ended), takes ~1 s (5x long_call_s), and from then on its backlog
    holds one worker while a light document is served on the other."""
    pool = PdfPool(workers=2, heavy_after_s=1000.0, long_call_s=0.2)
    assert pool.wait_started()
    try:

        async def run() -> None:
            hostile = await pool.open(slow_pdf(6), limits=Limits(), password=None)
            # ~6 s of calls on one worker: past the 2 s below (cancelled at the end, not awaited)
            backlog = [asyncio.create_task(hostile.text_layer(n)) for n in range(1, 7)]
            busy: list[int] = []
            for _ in range(40):  # 2 s: the first page, then its backlog on one worker
                busy.append(pool.status().busy)
                await asyncio.sleep(0.05)
            assert max(busy) == 1 and pool.status().queued > 0, busy  # never both workers
            light = await pool.open(make_text_pdf(1), limits=Limits(), password=None)
            assert (await light.text_layer(1)).blocks
            assert pool.status().queued > 0  # served while the hostile backlog waited
            await cancelled(backlog)

        asyncio.run(run())
    finally:
        pool.shutdown()


def test_the_wire_carries_a_page_through_the_links_shared_memory() -> None:
    """``pipeline.pdfwire`` with a slab (the pool's links): a page image is written into the shared memory and
    copied out at the other end, equal and writable, while the socket carries only the pickle; a buffer that does
    not fit the slab goes through the socket, and answers come back the same way (one slab, both directions)."""
    from multiprocessing.connection import Connection

    left, right = socket.socketpair()
    sender, receiver = Connection(left.detach()), Connection(right.detach())
    created = pdfwire.Slab.create("test-slab", size=4 * 1024 * 1024)
    assert created is not None  # Linux: a memfd
    ours, fd = created
    theirs = pdfwire.Slab.attach(os.dup(fd), ours.size)
    os.close(fd)
    pixels = np.random.default_rng(1).integers(0, 255, (1024, 724, 3), dtype=np.uint8)  # 2.2 MB: fits
    pdfwire.send(sender, (True, PageImage(page_no=2, pixels=pixels, scale_x=1.0, scale_y=1.0)), ours)
    head = receiver.recv_bytes()  # the message on the socket: its header and pickle only
    assert len(head) < 4096
    assert bytes(theirs.region[: pixels.nbytes]) == pixels.tobytes()  # the pixels are in the shared memory
    pdfwire.send(sender, (True, PageImage(page_no=2, pixels=pixels, scale_x=1.0, scale_y=1.0)), ours)
    ok, image = pdfwire.recv(receiver, theirs)
    assert ok and np.array_equal(image.pixels, pixels) and image.pixels.flags.writeable
    theirs.region[: pixels.nbytes] = bytes(pixels.nbytes)  # the slab is reused: what was read is a copy
    assert np.array_equal(image.pixels, pixels)
    big = np.ones((2, 1024, 1024, 3), dtype=np.uint8)  # 6 MB: over the slab, through the socket
    thread = threading.Thread(target=pdfwire.send, args=(receiver, ("answer", big, pixels), theirs))
    thread.start()
    kind, got_big, got_pixels = pdfwire.recv(sender, ours)
    thread.join()
    assert kind == "answer" and np.array_equal(got_big, big) and np.array_equal(got_pixels, pixels)
    for end in (sender, receiver, ours, theirs):
        end.close()


def test_without_memfd_the_pool_sends_pages_through_its_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the platform has no memfd (not Linux) a worker starts without a slab and its pages cross through the
    socket, as they did before the slab."""
    monkeypatch.delattr(os, "memfd_create")
    assert pdfwire.Slab.create("no-memfd") is None
    pool = PdfPool.for_limits(Limits())
    try:

        async def run() -> PageImage:
            doc = await pool.open(make_text_pdf(1), limits=Limits(), password=None)
            try:
                image, _ = await doc.render(1, 72)
                return image
            finally:
                doc.close()

        image = asyncio.run(run())
        assert image.pixels.shape[2] == 3 and image.pixels.size > 0
        assert all(w.slab is None for w in pool._workers if w.alive)
    finally:
        pool.shutdown()


def test_the_wire_carries_a_rendered_page_out_of_band_and_writable() -> None:
    """``pipeline.pdfwire``: a page image crosses as its own buffer and arrives equal and writable (as an unpickled
    array would), next to small values and an empty buffer; the socket is not held between messages."""
    from multiprocessing.connection import Connection

    left, right = socket.socketpair()
    sender, receiver = Connection(left.detach()), Connection(right.detach())
    pixels = np.random.default_rng(0).integers(0, 255, (1024, 724, 3), dtype=np.uint8)
    message = (True, (PageImage(page_no=3, pixels=pixels, scale_x=1.2, scale_y=1.2), None), np.zeros(0, np.uint8))

    def send_twice() -> None:
        for _ in range(2):
            pdfwire.send(sender, message)

    thread = threading.Thread(target=send_twice)
    thread.start()  # a 2.2 MB message is larger than the socket's buffer: sent while it is read
    for _ in range(2):
        ok, (image, warning), empty = pdfwire.recv(receiver)
        assert ok and warning is None and image.page_no == 3 and empty.size == 0
        assert np.array_equal(image.pixels, pixels) and image.pixels.flags.writeable
    thread.join()
    sender.close()
    receiver.close()
