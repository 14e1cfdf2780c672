"""The FastAPI ingress deployment: HTTP in, pages fanned out to the model deployments, graph out.

The ingress reads the PDF itself (PyMuPDF in its pool of worker processes, shared fairly between documents:
text layer, classification, rendering of only the pages a model needs) and reaches the models through their
DeploymentHandles.
"""

# No `from __future__ import annotations` here: FastAPI must resolve these annotations at run time, and
# Serve ships the ingress class by value, so helpers it calls are defined above it (or imported).
#
# The class's routes are declared by it and by its mixins, each on its own routers: the probes (serve/readiness.py),
# the jobs API (serve/jobs/routes.py), docling-serve's API (serve/doclingapi/routes.py); the meta, conversion and
# render routes are here.

import asyncio
import logging
import time
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, File, Form, Query, UploadFile
from fastapi.responses import Response
from ray import serve
from ray.serve.handle import DeploymentHandle

from models.config import ocr_input_max_pixels
from pipeline import ConvertOptions, DocumentGraph, PdfPool
from pipeline.convert import Conversion, convert_bytes
from pipeline.export import EXPORTERS, ExportOptions, ZipBundleSerializer, exporter
from pipeline.graph import schema_json
from pipeline.memory import freeze_startup_heap, release_freed_memory
from pipeline.options import Limits
from pipeline.progress import ConvertProgress
from pipeline.protocols import ModelHealth
from pipeline.version import VERSION
from serve.api import ERRORS, PNG, ZIP_MEDIA_TYPE, AppStatus, DeploymentInfo, FormatInfo, ModelInfo, OutputFormat
from serve.args import AppArgs
from serve.auth import settings, v1_router
from serve.bodylimit import BodyLimitMiddleware
from serve.doclingapi.routes import DoclingRoutes, docling_open, docling_v1, docling_ws
from serve.errors import install_error_handlers
from serve.handles import HandleModels
from serve.intake import FURNITURE_HELP, MULTIPART_OVERHEAD, convert_options, read_upload, safe_name
from serve.jobs.backends import build_store
from serve.jobs.models import JobRequest
from serve.jobs.routes import JobRoutes, jobs_v1
from serve.jobs.runner import JobRunner
from serve.metrics import IngressMetrics
from serve.pageimage import PREVIEW_DPI, DpiQuery, UploadCache, page_png
from serve.readiness import ReadinessRoutes, own_app_status, probes
from serve.ui import ui

log = logging.getLogger("docgraph.serve")
T = TypeVar("T")


app = FastAPI(
    title="docgraph",
    version=VERSION,
    description="PDFs in, document graphs out: layout + OCR + the PDF's own text layer, on Ray Serve.",
)
install_error_handlers(app, debug=settings().debug)
app.add_middleware(BodyLimitMiddleware)
# Every /v1 route is declared on a router of v1_router() (this one, the jobs API's), so none can be public by
# accident; the health probes are on their own open router.
v1 = v1_router()


def _mount_v1(cls: type[T]) -> type[T]:
    """Mount the routers once the class body has declared its routes, before serve.ingress (applied next)
    turns the routes ``app`` holds into the class's methods."""
    app.include_router(probes)  # /healthz, /readyz (ReadinessRoutes' methods; open)
    app.include_router(v1)
    app.include_router(jobs_v1)  # /v1/jobs (JobRoutes' methods)
    for router in (docling_v1, docling_open, docling_ws):  # docling-serve's routes (DoclingRoutes' methods)
        app.include_router(router)
    app.include_router(ui)  # the viewer's page and assets (public: the key is typed into the page)
    return cls


@serve.ingress(app)
@_mount_v1
class DocumentIngress(ReadinessRoutes, JobRoutes, DoclingRoutes):
    async def __init__(  # type: ignore[misc]  # Serve awaits async constructors
        self, layout: DeploymentHandle[Any] | None, ocr: DeploymentHandle[Any] | None, args: AppArgs
    ) -> None:
        logging.getLogger("docgraph").setLevel(settings().log_level)
        self._args = args
        BodyLimitMiddleware.max_bytes = args.limits.max_bytes + MULTIPART_OVERHEAD  # framing of the form
        BodyLimitMiddleware.idle_timeout_s = args.limits.upload_idle_timeout_s
        BodyLimitMiddleware.grace_s = args.limits.upload_grace_s
        BodyLimitMiddleware.min_rate = args.limits.min_upload_rate
        self._handles = {"layout": layout, "ocr": ocr}
        self._answered: dict[str, ModelHealth] = {}  # each model's last health answer (readiness while busy)
        self._models = HandleModels(
            layout,
            ocr,
            retries=args.limits.model_retries,
            layout_max_side=args.limits.layout_max_side,
            ocr_max_pixels=ocr_input_max_pixels(args.ocr),
            orientation=getattr(args.ocr, "orientation", None) is not None,
        )
        self._pool = PdfPool.for_limits(args.limits)
        self._metrics = IngressMetrics()
        self._store = build_store(
            args.jobs.store, serve.get_replica_context().app_name, keep_uploads=args.jobs.keep_uploads
        )
        self._uploads = UploadCache()  # jobs' PDFs for their page images
        self._jobs = JobRunner(self._store, args.jobs, self._convert_job)
        self._jobs.start()  # also the watchdog: resumes jobs whose replica died
        freeze_startup_heap()  # what this replica keeps for its life, out of the collector's walks

    def check_health(self) -> None:
        # A slow document is not a sick replica: the pool kills calls past their deadlines itself. Only a pool
        # that cannot start a PyMuPDF worker at all makes Serve replace the replica.
        status = self._pool.status()
        if not status.ready and status.error:
            raise RuntimeError(status.describe())

    @v1.get("/models", tags=["meta"])
    async def list_models(self) -> list[ModelInfo]:
        out = []
        for role, handle in self._handles.items():
            if handle is not None:
                health = await self._model_health(role, handle)
                out.append(ModelInfo(role=role, name=health.name, ready=health.ready, licence=health.licence))
        return out

    @v1.get("/deployments", tags=["meta"])
    async def deployments(self) -> AppStatus:
        """Replicas running per deployment of this application, as Serve reports them (load tests chart it)."""
        app_name, app_status = await asyncio.to_thread(own_app_status)
        infos = []
        if app_status is not None:
            for name, dep in sorted(app_status.deployments.items()):
                running = sum(n for state, n in dep.replica_states.items() if state == "RUNNING")  # a str enum
                infos.append(DeploymentInfo(name=name, status=str(dep.status.value), replicas=running))
        return AppStatus(app=app_name, deployments=infos)

    @v1.get("/formats", tags=["meta"])
    async def formats(self) -> list[FormatInfo]:
        """The formats a graph is exported in (the ``format`` parameter of /v1/convert and of a job's result), from
        the export registry; the viewer makes its downloads from this list."""
        out = [
            FormatInfo(name=e.name, label=e.label, media_type=e.media_type, extension=e.extension)
            for e in EXPORTERS.values()
        ]
        out.append(FormatInfo(name=OutputFormat.ZIP, label="Zip bundle", media_type=ZIP_MEDIA_TYPE, extension="zip"))
        return out

    @v1.get("/schema", tags=["meta"])
    async def graph_schema(self) -> Response:
        """The JSON Schema of the DocumentGraph that /v1/convert returns."""
        return Response(content=schema_json(), media_type="application/schema+json")

    @v1.post(
        "/convert",
        tags=["convert"],
        responses={
            200: {
                "model": DocumentGraph,
                "content": {"text/markdown": {}, "text/html": {}, "application/zip": {}},
            },
            **ERRORS,
        },
    )
    async def convert(
        self,
        file: Annotated[UploadFile, File(description="The PDF.")],
        options: Annotated[ConvertOptions, Depends(convert_options)],
        format: Annotated[
            OutputFormat,
            Query(
                description="json (graph), markdown, html, docling (DoclingDocument), chunks (RAG chunks: "
                "docling-core's HierarchicalChunker), zip (all of them + annotated PNGs + figure crops)."
            ),
        ] = OutputFormat.JSON,
        furniture: Annotated[bool, Query(description=FURNITURE_HELP)] = False,
    ) -> Response:
        """Convert one PDF synchronously (up to ``jobs.sync_max_pages`` pages; larger ones: POST /v1/jobs)."""
        limits = self._args.limits
        data = await read_upload(file, limits)
        result = await self._conversion(
            data,
            options,
            limits,
            filename=safe_name(file.filename),
            annotate=format is OutputFormat.ZIP,
            max_pages=self._args.jobs.sync_max_pages,
        )
        graph = result.graph
        log.info(
            "converted %s: %d pages, %d blocks, status %s",
            graph.document.id[:12],
            len(graph.pages),
            len(graph.blocks),
            graph.status.value,
        )
        headers = {"X-Docgraph-Status": graph.status.value}
        if format is OutputFormat.ZIP:
            body = ZipBundleSerializer().serialize(graph, result.annotated, result.figures)
            return Response(body, media_type=ZIP_MEDIA_TYPE, headers=headers)
        export = exporter(format.value)
        body = export.export(graph, ExportOptions(furniture=furniture))
        return Response(body, media_type=export.media_type, headers=headers)

    @v1.post("/render", tags=["pages"], response_class=Response, responses={**PNG, **ERRORS})
    async def render_page(
        self,
        file: Annotated[UploadFile, File(description="The PDF.")],
        page: Annotated[int, Query(ge=1, description="1-based page number.")] = 1,
        dpi: DpiQuery = PREVIEW_DPI,
        password: Annotated[str | None, Form(max_length=1024, description="User password, if encrypted.")] = None,
    ) -> Response:
        """One page of a PDF as a PNG at a DPI (in a PyMuPDF worker, under the render deadline and the pixel and
        image-decode budgets): page images beside /v1/convert's graph (its boxes are in PDF points: a box's pixel is
        points x dpi / 72)."""
        limits = self._args.limits
        data = await read_upload(file, limits)
        image = await page_png(self._pool, data, limits=limits, password=password or None, page_no=page, dpi=dpi)
        return Response(image.png, media_type="image/png", headers=image.headers())

    async def _convert_job(self, data: bytes, request: JobRequest, progress: ConvertProgress) -> DocumentGraph:
        timeout = self._args.jobs.document_timeout_s
        if request.docling is not None and request.docling.document_timeout_s is not None:
            timeout = min(timeout, request.docling.document_timeout_s)  # docling's document_timeout
        limits = self._args.limits.model_copy(update={"document_timeout_s": timeout})
        result = await self._conversion(data, request.options, limits, filename=request.filename, progress=progress)
        return result.graph

    async def _conversion(
        self,
        data: bytes,
        options: ConvertOptions,
        limits: Limits,
        *,
        filename: str | None,
        annotate: bool = False,
        max_pages: int | None = None,
        progress: ConvertProgress | None = None,
    ) -> Conversion:
        """One conversion with this replica's worker and models, counted in the metrics (sync and jobs alike)."""
        self._metrics.started()
        t0, status = time.perf_counter(), "error"
        try:
            result = await convert_bytes(
                data,
                pool=self._pool,
                models=self._models,
                options=options,
                limits=limits,
                filename=filename,
                annotate=annotate,
                max_pages=max_pages,
                progress=progress,
            )
            status = result.graph.status.value
            self._metrics.record(result.graph)
            return result
        finally:
            self._metrics.finished(status, time.perf_counter() - t0)
            release_freed_memory()  # the document's page images
