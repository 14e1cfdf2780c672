"""The converting actor of ``docgraph batch``: one per ``map_batches`` slot, each document through ``convert_bytes``.

The same conversion as the service's: ``pipeline.convert.convert_bytes`` opens the bytes with the PyMuPDF worker pool
(``pipeline.pdf.open_document``'s intake: magic bytes, size, encryption, page-tree bombs, repairs), routes each page
(``pipeline.route``), and builds the graph. Only the ``PageModels`` differ, as between ``docgraph convert --local``
and the ingress:

- ``actors`` mode: the backends in this actor (``docgraph.local.LocalConverter``'s ``LocalModels``), loaded once;
- ``serve`` mode: the running application's model deployments through their DeploymentHandles
  (``serve.handles.HandleModels``, the ingress's own class), so bulk pages and HTTP pages share the replicas.

Every document ends as an ``IndexRow``, whatever happens: a document the service would refuse gets the same code,
message and HTTP status; an unexpected exception is caught here, never left to stop the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from docgraph.batch.index import IndexRow, PageErrorRow, RowStatus, options_json, options_key
from docgraph.batch.inputs import SourceRef, read_source
from docgraph.batch.outputs import MAX_ATTEMPTS, OutputLayout
from docgraph.batch.progress import BoardProgress, board_handle
from models.config import AnyOcrConfig, YoloLayoutConfig
from pipeline.errors import DocgraphError
from pipeline.export import ExportOptions
from pipeline.graph import SCHEMA_VERSION, DocumentGraph, DocumentStatus, PageStatus
from pipeline.memory import freeze_startup_heap
from pipeline.options import ConvertOptions, Limits
from pipeline.version import VERSION

log = logging.getLogger("docgraph.batch")
T = TypeVar("T")


@dataclass(frozen=True)
class WorkerSpec:
    """Everything an actor needs, pickled once into each actor's constructor."""

    dest: Path
    formats: list[str]
    options: ConvertOptions
    run_id: str
    mode: str = "actors"  # actors | serve
    limits: Limits = field(default_factory=Limits)
    layout: YoloLayoutConfig | None = None  # actors mode: the backends (None: not loaded)
    ocr: AnyOcrConfig | None = None
    app_name: str = "docgraph"  # serve mode: the application whose deployments are called
    deployments: tuple[str, ...] = ()
    board: str | None = None  # the progress board actor's name
    furniture: bool = False
    resume: bool = True  # skip documents whose row and outputs an earlier run left
    model_calls: int = 4  # serve mode: this actor's model calls in flight at once (its share of the replicas)


class WorkerLostError(DocgraphError):
    """A document whose conversions each ended with the worker process dead (memory, a crash)."""

    code = "worker_lost"


@dataclass(frozen=True)
class ModelNames:
    layout: str | None = None
    ocr: str | None = None
    orientation: str | None = None


def http_status(exc: DocgraphError) -> int:
    from serve.errors import status_for  # the service's one table from errors to HTTP

    return status_for(exc)


class ConvertWorker:
    """``map_batches``' callable class: a batch of source references in, their index rows (JSON) out."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.key = options_key(spec.options)
        self.options_json = options_json(spec.options)
        self.layout = OutputLayout(spec.dest, spec.formats, ExportOptions(furniture=spec.furniture))
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._loop = asyncio.new_event_loop()  # one loop for the actor's life: handles and the pool stay on it
        self._thread = threading.Thread(target=self._loop.run_forever, name="docgraph-batch-loop", daemon=True)
        self._thread.start()
        self._local: Any = None
        if spec.mode == "serve":
            self.models, self.pool, self.names = self._serve_models()
        else:
            self.models, self.pool, self.names = self._local_models()
        self.metrics = _metrics()
        self.board = board_handle(spec.board)
        freeze_startup_heap()  # its imports, models and pool: out of the collector's walks for the actor's life

    # --- models ------------------------------------------------------------------------------------------------
    def _local_models(self) -> tuple[Any, Any, ModelNames]:
        from docgraph.local import LocalConverter

        converter = LocalConverter(layout=self.spec.layout, ocr=self.spec.ocr, limits=self.spec.limits)
        self._local = converter
        m = converter.models
        names = ModelNames(
            layout=getattr(m.layout, "name", None),
            ocr=getattr(m.ocr, "name", None),
            orientation=getattr(m.orientation, "name", None),
        )
        return m, converter.pool, names

    def _serve_models(self) -> tuple[Any, Any, ModelNames]:
        from docgraph.batch.servemodels import serve_models

        models, pool, (layout, ocr, orientation) = serve_models(self.spec, self._run)
        return models, pool, ModelNames(layout, ocr, orientation)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    # --- Ray Data's call -----------------------------------------------------------------------------------------
    def __call__(self, batch: Any) -> dict[str, list[str]]:
        """A ``pyarrow`` batch of references in, converted concurrently (as the ingress converts the requests it has
        at once); one index row (JSON) per reference out."""
        refs = [SourceRef.from_row(row) for row in batch.to_pylist()]
        rows = self._run(self._convert_all(refs))
        return {"row": [row.model_dump_json() for row in rows]}

    async def _convert_all(self, refs: list[SourceRef]) -> list[IndexRow]:
        return list(await asyncio.gather(*(self.convert(ref) for ref in refs)))

    def convert_sync(self, ref: SourceRef) -> IndexRow:
        return self._run(self.convert(ref))

    async def convert(self, ref: SourceRef) -> IndexRow:
        """One document to its row: read, resume check, convert, write; never raises."""
        started = time.time()
        t0 = time.perf_counter()
        doc_id: str | None = None
        size: int | None = None
        read_s = 0.0
        try:
            data, digest = await asyncio.to_thread(_read_and_hash, ref, self.spec.limits.max_bytes)
            doc_id, size = digest, len(data)
            read_s = time.perf_counter() - t0
            earlier = await asyncio.to_thread(self.layout.finished, digest, self.key) if self.spec.resume else None
            if earlier is not None:  # resumed: this document's outputs and row are there already
                return earlier.model_copy(update={"source": ref.uri, "filename": _name(ref.uri)})
            if self.layout.begin(digest, self.key) >= MAX_ATTEMPTS:  # its worker died under each earlier attempt
                self.layout.end(digest, self.key)
                lost = WorkerLostError(f"its worker died during each of {MAX_ATTEMPTS} conversions; not tried again")
                return self._failed(ref, lost, digest, size, started, t0, read_s=read_s)
            row = await self._convert(ref, data, digest, started, t0, read_s)
            self.layout.end(digest, self.key)
            return row
        except Exception as exc:  # noqa: BLE001 - a document never stops the run: its row says what happened
            return self._failed(ref, exc, doc_id, size, started, t0, read_s=read_s or time.perf_counter() - t0)

    async def _convert(
        self, ref: SourceRef, data: bytes, doc_id: str, started: float, t0: float, read_s: float
    ) -> IndexRow:
        from pipeline.convert import convert_bytes
        from pipeline.memory import release_freed_memory

        options = self.spec.options
        if ref.password and not options.password:
            options = options.model_copy(update={"password": ref.password})
        progress = BoardProgress(self.board, ref.uri, self.worker)
        progress.started()
        try:
            c0, status = time.perf_counter(), "error"
            if self.metrics is not None:
                self.metrics.started()
            try:
                conversion = await convert_bytes(
                    data,
                    pool=self.pool,
                    models=self.models,
                    options=options,
                    limits=self.spec.limits,
                    filename=_name(ref.uri),
                    progress=progress,
                )
                graph = conversion.graph
                status = graph.status.value
                if self.metrics is not None:
                    self.metrics.record(graph)
            except DocgraphError as exc:
                status = exc.code
                return self._failed(ref, exc, doc_id, len(data), started, t0, read_s=read_s)
            finally:
                if self.metrics is not None:
                    self.metrics.finished(status, time.perf_counter() - c0)
                release_freed_memory()  # the document's page images (as the ingress does after each conversion)
            convert_s = time.perf_counter() - c0
            w0 = time.perf_counter()
            outputs = await asyncio.to_thread(self.layout.write_document, graph, self.key)
            row = self._row_from_graph(ref, graph, len(data), started, read_s, convert_s, outputs)
            row.write_s = time.perf_counter() - w0
            row.total_s = time.perf_counter() - t0
            row.finished_at = time.time()
            self.layout.write_row(row)  # last: its presence says every file of this document is complete
            return row
        finally:
            progress.finished()

    # --- rows ------------------------------------------------------------------------------------------------------
    def _base(self, ref: SourceRef, doc_id: str | None, size: int | None, started: float) -> dict[str, Any]:
        return {
            "doc_id": doc_id, "source": ref.uri, "filename": _name(ref.uri), "bytes": size, "started_at": started,
            "finished_at": time.time(), "layout_model": self.names.layout, "ocr_model": self.names.ocr,
            "orientation_model": self.names.orientation, "docgraph_version": VERSION, "schema_version": SCHEMA_VERSION,
            "options": self.options_json, "options_key": self.key, "formats": self.layout.formats,
            "mode": self.spec.mode, "worker": self.worker, "run_id": self.spec.run_id,
        }  # fmt: skip

    def _row_from_graph(
        self,
        ref: SourceRef,
        graph: DocumentGraph,
        size: int,
        started: float,
        read_s: float,
        convert_s: float,
        outputs: dict[str, str],
    ) -> IndexRow:
        errors = [
            PageErrorRow(
                page_no=p.page_no,
                status=p.status.value,
                step=p.error.step.value if p.error.step else None,
                code=p.error.code,
                message=p.error.message,
            )
            for p in graph.pages
            if p.error is not None and p.status is not PageStatus.OK
        ]
        counts = {s: sum(p.status is s for p in graph.pages) for s in PageStatus}
        complete = graph.status is DocumentStatus.COMPLETE
        return IndexRow(
            **self._base(ref, graph.document.id, size, started),
            status=RowStatus.COMPLETE if complete else RowStatus.PARTIAL,
            reason_code=None if complete or not errors else errors[0].code,
            reason=None if complete or not errors else f"page {errors[0].page_no}: {errors[0].message}",
            pages=graph.document.page_count,
            pages_converted=len(graph.pages),
            pages_ok=counts[PageStatus.OK],
            pages_partial=counts[PageStatus.PARTIAL],
            pages_failed=counts[PageStatus.FAILED],
            page_errors=errors,
            read_s=read_s,
            convert_s=convert_s,
            outputs=outputs,
        )

    def _failed(
        self,
        ref: SourceRef,
        exc: Exception,
        doc_id: str | None,
        size: int | None,
        started: float,
        t0: float,
        *,
        read_s: float,
    ) -> IndexRow:
        if isinstance(exc, DocgraphError):
            code, message, status = exc.code, exc.message, http_status(exc)
        else:
            log.error("%s: unexpected error", ref.uri, exc_info=exc)
            code, message, status = "internal_error", f"{type(exc).__name__}: {exc}", 500
        row = IndexRow(
            **self._base(ref, doc_id, size, started),
            status=RowStatus.FAILED,
            reason_code=code,
            reason=message,
            http_status=status,
            retryable=status >= 500 or code == "source_unreadable",
            read_s=read_s,
            total_s=time.perf_counter() - t0,
        )
        if doc_id is not None:
            with contextlib.suppress(OSError):
                self.layout.write_row(row)
        return row

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            if self._local is not None:
                self._local.close()
            elif getattr(self, "pool", None) is not None:
                self.pool.shutdown()


def _read_and_hash(ref: SourceRef, max_bytes: int) -> tuple[bytes, str]:
    data = read_source(ref, max_bytes)
    return data, hashlib.sha256(data).hexdigest()


def _name(uri: str) -> str | None:
    from serve.intake import safe_name  # what the service keeps of a client's file name

    return safe_name(uri.rstrip("/").rsplit("/", 1)[-1])


def _metrics() -> Any:
    """The service's Prometheus series (``serve/metrics.py``), counted by the batch's workers too: the same
    ``docgraph_*`` names (without Serve's deployment/replica tags, as these actors are not replicas)."""
    try:
        from serve.metrics import IngressMetrics

        return IngressMetrics()
    except Exception:  # metrics are best effort: no metrics agent is no reason to stop converting
        log.warning("Prometheus metrics unavailable in this worker", exc_info=True)
        return None
