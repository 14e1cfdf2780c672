"""The PyMuPDF worker process: ``python -m pipeline.pdfworker FD SLAB_FD SLAB_BYTES`` serves one ``PdfPool``
worker slot.

It reads requests from the connection on file descriptor ``FD`` (a socket the pool made), one at a time, and
answers each with ``(ok, value)``: ``("open", key, data, limits, password)`` opens a document under ``key`` and
answers its ``DocumentMeta``; ``("call", key, method, args)`` runs one of ``PdfDocument``'s page methods;
``("close", key)`` closes it. Before the first request it runs a self-test and answers ``("ready", version)``.
A request that overruns its deadline is not interrupted here: the pool kills this process and starts another.
The pool is the only peer (its own child, over a private socket), so pickle is the wire format
(``pipeline.pdfwire``: large buffers out of band, through the shared memory on ``SLAB_FD``).
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

import cv2
import pymupdf

from pipeline import pdfwire
from pipeline.errors import DocgraphError
from pipeline.memory import freeze_startup_heap
from pipeline.pdf import PdfDocument, open_document

PAGE_METHODS = frozenset(
    {"read_page", "geometry", "text_layer", "words", "tables", "ruled_tables", "render", "render_display_png"}
)


def selftest() -> None:
    """PyMuPDF writes and reads back a page: the worker can do its job."""
    with pymupdf.open() as doc:
        page = doc.new_page()
        page.insert_text((72, 72), "ready")
        if "ready" not in page.get_text():
            raise RuntimeError("PyMuPDF could not read back its own text")


def portable(exc: BaseException) -> BaseException:
    """The exception as the pool should raise it: the pipeline's own as they are, anything else as a
    ``RuntimeError`` naming it (third-party exception types need not unpickle in the parent)."""
    if isinstance(exc, DocgraphError):
        return exc
    return RuntimeError(f"{type(exc).__name__}: {exc}")


def handle(docs: dict[str, PdfDocument], request: tuple[object, ...]) -> object:
    op, key = request[0], str(request[1])
    if op == "open":
        data, limits, password = request[2:5]
        doc = open_document(data, limits=limits, password=password)  # type: ignore[arg-type]  # the pool's types
        docs[key] = doc
        return doc.meta
    if op == "call":
        method, args = str(request[2]), request[3]
        if method not in PAGE_METHODS:
            raise ValueError(f"not a page method: {method}")
        return getattr(docs[key], method)(*args)  # type: ignore[misc]  # args: a tuple from the pool
    if op == "close":
        if key in docs:
            docs.pop(key).close()
        return None
    raise ValueError(f"unknown request: {op}")


def serve(conn: Connection, slab: pdfwire.Slab | None = None) -> None:
    try:
        selftest()
    except Exception as exc:  # noqa: BLE001 - reported to the pool, which reports it in /readyz
        pdfwire.send(conn, ("failed", f"{type(exc).__name__}: {exc}"))
        return
    cv2.setNumThreads(1)  # the pool runs a worker per core: OpenCV's resizes and blurs stay on this one
    freeze_startup_heap()  # its imports and the self-test, out of the collector's walks for the worker's life
    pdfwire.send(conn, ("ready", pymupdf.__version__), slab)
    docs: dict[str, PdfDocument] = {}
    while True:
        try:
            request = pdfwire.recv(conn, slab)
        except (EOFError, OSError):  # the pool closed the socket or died: so does this worker
            return
        try:
            pdfwire.send(conn, (True, handle(docs, request)), slab)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller, as data
            pdfwire.send(conn, (False, portable(exc)), slab)


if __name__ == "__main__":
    args = [int(arg) for arg in sys.argv[1:4]]  # the socket's descriptor, then the slab's and its size if any
    serve(Connection(args[0]), pdfwire.Slab.attach(args[1], args[2]) if len(args) == 3 else None)
