"""The FastAPI ingress deployment: HTTP in, pages fanned out to the model deployments, graph out.

The ingress reads the PDF itself (PyMuPDF in its pool of worker processes, shared fairly between documents:
text layer, classification, rendering of only the pages a model needs) and reaches the models through their
DeploymentHandles.
"""

# No `from __future__ import annotations` here: FastAPI must resolve these annotations at run time, and
# Serve ships the ingress class by value, so helpers it calls are defined above it.

import asyncio
import logging
import time
from importlib import import_module
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, FastAPI, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from ray import serve
from ray.serve.handle import DeploymentHandle
from ray.serve.schema import ApplicationStatusOverview

from pipeline import ConvertOptions, DocumentGraph, PdfPool
from pipeline.convert import Conversion, convert_bytes
from pipeline.export import ExportOptions, ZipBundleSerializer, exporter
from pipeline.graph import schema_json
from pipeline.memory import release_freed_memory
from pipeline.options import InvalidOptionsError, Limits, parse_page_range
from pipeline.progress import ConvertProgress
from pipeline.protocols import ModelHealth
from pipeline.version import VERSION
from serve.api import AppStatus, DeploymentInfo, ErrorBody, ModelInfo, OutputFormat, Readiness
from serve.args import AppArgs
from serve.auth import require_api_key, settings
from serve.bodylimit import BodyLimitMiddleware
from serve.doclingapi.routes import DoclingRoutes, docling_open, docling_v1, docling_ws
from serve.errors import install_error_handlers
from serve.handles import HandleModels
from serve.intake import MULTIPART_OVERHEAD, convert_options, read_upload, safe_name
from serve.jobs.backends import build_store
from serve.jobs.errors import JobNotFinishedError, JobNotFoundError
from serve.jobs.events import job_events
from serve.jobs.models import JOB_ID_PATTERN, JobAccepted, JobRecord, JobRequest, JobStatus
from serve.jobs.runner import JobRunner
from serve.metrics import IngressMetrics
from serve.pageimage import PREVIEW_DPI, DpiQuery, UploadCache, page_png
from serve.ui import ui

log = logging.getLogger("docgraph.serve")
T = TypeVar("T")
FURNITURE_HELP = str(ExportOptions.model_fields["furniture"].description)
INGRESS_DEPENDENCIES = ("pymupdf", "cv2", "PIL", "numpy", "pydantic", "fastapi", "multipart", "sqlite3")


app = FastAPI(
    title="docgraph",
    version=VERSION,
    description="PDFs in, document graphs out: layout + OCR + the PDF's own text layer, on Ray Serve.",
)
install_error_handlers(app, debug=settings().debug)
app.add_middleware(BodyLimitMiddleware)
# Every /v1 route is declared on this router, so none can be public by accident; the health probes are on `app`.
v1 = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require_api_key)],
    responses={401: {"model": ErrorBody, "description": "Missing or wrong API key (when one is configured)."}},
)
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (400, 401, 413, 415, 422, 500, 503, 504)
}
JOB_ERRORS: dict[int | str, dict[str, object]] = {code: {"model": ErrorBody} for code in (400, 401, 404, 409, 500)}
IMAGE_ERRORS: dict[int | str, dict[str, object]] = {
    **JOB_ERRORS,
    **{code: {"model": ErrorBody} for code in (422, 503, 504)},
}
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN, description="The id POST /v1/jobs returned.")]
PNG: dict[int | str, dict[str, object]] = {200: {"content": {"image/png": {}}, "description": "The page, PNG."}}


def _job_links(job_id: str) -> dict[str, str]:
    base = f"/v1/jobs/{job_id}"
    return {"status_url": base, "result_url": f"{base}/result", "events_url": f"{base}/events"}


def _own_app_status() -> tuple[str, ApplicationStatusOverview | None]:
    """This replica's application name and Serve's status of it (a blocking call: run it in a thread)."""
    app_name = serve.get_replica_context().app_name
    return app_name, serve.status().applications.get(app_name)


def _deployment_status(name: str) -> str:
    """Serve's own word on a deployment (its constructor's traceback when it failed), for /readyz."""
    try:
        overview = _own_app_status()[1].deployments[name]  # type: ignore[union-attr]  # None raises: caught below
        text = f"[{overview.status.value}] {overview.message}".strip()
        # a failed constructor's traceback ends with its reason: keep the head and the tail, bounded
        return text if len(text) <= 2000 else f"{text[:500]} … {text[-1500:]}"
    except Exception:  # noqa: BLE001 - best effort: readiness already says not ready
        return ""


def _mount_v1(cls: type[T]) -> type[T]:
    """Mount the /v1 router once the class body has declared its routes, before serve.ingress (applied next)
    turns the routes ``app`` holds into the class's methods."""
    app.include_router(v1)
    for router in (docling_v1, docling_open, docling_ws):  # docling-serve's routes (DoclingRoutes' methods)
        app.include_router(router)
    app.include_router(ui)  # the viewer's page and assets (public: the key is typed into the page)
    return cls


@serve.ingress(app)
@_mount_v1
class DocumentIngress(DoclingRoutes):
    async def __init__(  # type: ignore[misc]  # Serve awaits async constructors
        self, layout: DeploymentHandle | None, ocr: DeploymentHandle | None, args: AppArgs
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

    def check_health(self) -> None:
        # A slow document is not a sick replica: the pool kills calls past their deadlines itself. Only a pool
        # that cannot start a PyMuPDF worker at all makes Serve replace the replica.
        status = self._pool.status()
        if not status.ready and status.error:
            raise RuntimeError(status.describe())

    @app.get("/healthz", tags=["health"])
    async def healthz(self) -> dict[str, str]:
        """Alive: the ingress answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=Readiness, responses={503: {"model": Readiness}})
    async def readyz(self) -> JSONResponse:
        """Ready only when every dependency imports and every model deployment has loaded and run once."""
        components = [await self._ingress_health()]
        for role, handle in self._handles.items():
            if handle is not None:
                components.append(await self._model_health(role, handle))
        body = Readiness(ready=all(c.ready for c in components), components=components)
        return JSONResponse(status_code=200 if body.ready else 503, content=body.model_dump())

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
        app_name, app_status = await asyncio.to_thread(_own_app_status)
        infos = []
        if app_status is not None:
            for name, dep in sorted(app_status.deployments.items()):
                running = sum(n for state, n in dep.replica_states.items() if state == "RUNNING")  # a str enum
                infos.append(DeploymentInfo(name=name, status=str(dep.status.value), replicas=running))
        return AppStatus(app=app_name, deployments=infos)

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
            return Response(body, media_type="application/zip", headers=headers)
        export = exporter(format.value)
        body = export.export(graph, ExportOptions(furniture=furniture))
        return Response(body, media_type=export.media_type, headers=headers)

    @v1.post("/jobs", tags=["jobs"], status_code=202, responses={202: {"model": JobAccepted}, **ERRORS})
    async def submit_job(
        self,
        file: Annotated[UploadFile, File(description="The PDF.")],
        options: Annotated[ConvertOptions, Depends(convert_options)],
    ) -> JSONResponse:
        """Start converting a PDF of any size in the background: 202 with the job's id and links (Location)."""
        limits = self._args.limits
        data = await read_upload(file, limits)
        doc = await self._pool.open(data, limits=limits, password=options.password)  # bad uploads: 4xx now
        doc.close()
        pages_total = len(parse_page_range(options.pages, doc.page_count))
        status = await self._jobs.submit(
            data, JobRequest(options=options, filename=safe_name(file.filename)), pages_total=pages_total
        )
        body = JobAccepted(id=status.id, state=status.state, **_job_links(status.id))
        return JSONResponse(status_code=202, content=body.model_dump(), headers={"Location": body.status_url})

    @v1.get("/jobs/{job_id}", tags=["jobs"], responses=JOB_ERRORS)
    async def job_status(self, job_id: JobId) -> JobStatus:
        """State, pages total/done/failed, and each page's steps with their timings."""
        return (await self._job(job_id)).status

    @v1.delete("/jobs/{job_id}", tags=["jobs"], status_code=202, responses=JOB_ERRORS)
    async def cancel_job(self, job_id: JobId) -> JobStatus:
        """Cancel a job: queued ones at once; running ones stop (their model calls are abandoned) within ~1 s."""
        record = await self._jobs.cancel(job_id)
        if record is None:
            raise JobNotFoundError(f"no job {job_id} (never existed, or expired)")
        return record.status

    @v1.get(
        "/jobs/{job_id}/result",
        tags=["jobs"],
        responses={200: {"model": DocumentGraph, "content": {"text/markdown": {}, "text/html": {}}}, **JOB_ERRORS},
    )
    async def job_result(
        self,
        job_id: JobId,
        format: Annotated[
            OutputFormat, Query(description="json (graph), markdown, html, docling or chunks.")
        ] = OutputFormat.JSON,
        furniture: Annotated[bool, Query(description=FURNITURE_HELP)] = False,
    ) -> Response:
        """The finished job's graph: only once the job is succeeded or partially_succeeded, never before."""
        if format is OutputFormat.ZIP:
            raise InvalidOptionsError("a job's result is json, markdown, html, docling or chunks (zip: /v1/convert)")
        status = (await self._job(job_id)).status
        body = await self._store.result(job_id) if status.state.final else None
        if not status.state.has_result or body is None:
            reason = f": {status.error.message}" if status.error else ""
            raise JobNotFinishedError(f"job {job_id} is {status.state.value}{reason}", state=status.state.value)
        headers = {"X-Docgraph-Status": status.state.value}
        if format is OutputFormat.JSON:
            return Response(body, media_type="application/json", headers=headers)
        export = exporter(format.value)
        return Response(
            export.export(DocumentGraph.model_validate_json(body), ExportOptions(furniture=furniture)),
            media_type=export.media_type,
            headers=headers,
        )

    @v1.get(
        "/jobs/{job_id}/events",
        tags=["jobs"],
        responses={200: {"content": {"text/event-stream": {}}}, **JOB_ERRORS},
    )
    async def job_events(self, job_id: JobId, request: Request) -> StreamingResponse:
        """Server-sent events: ``page`` (a finished page and its blocks), ``progress`` (counts), ``done`` (status)."""
        await self._job(job_id)
        return StreamingResponse(
            job_events(self._store, job_id, request.is_disconnected),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

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

    @v1.get(
        "/jobs/{job_id}/pages/{page_no}/image",
        tags=["jobs"],
        response_class=Response,
        responses={**PNG, **IMAGE_ERRORS},
    )
    async def job_page_image(
        self,
        job_id: JobId,
        page_no: Annotated[int, Path(ge=1, description="1-based page number.")],
        dpi: DpiQuery = PREVIEW_DPI,
    ) -> Response:
        """One page of a job's PDF as a PNG, from the upload the store keeps until the job expires (an encrypted
        PDF: only while the job runs; its password is dropped when it ends, then POST /v1/render with it)."""
        record = await self._job(job_id)
        data = await self._uploads.get(job_id, lambda: self._store.upload(job_id))
        if data is None:
            raise JobNotFoundError(f"job {job_id}'s PDF is no longer kept")
        limits = self._args.limits
        password = record.request.options.password
        image = await page_png(self._pool, data, limits=limits, password=password, page_no=page_no, dpi=dpi)
        return Response(image.png, media_type="image/png", headers=image.headers())

    async def _job(self, job_id: str) -> JobRecord:
        record = await self._store.get(job_id)
        if record is None:
            raise JobNotFoundError(f"no job {job_id} (never existed, or expired)")
        return record

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

    async def _ingress_health(self) -> ModelHealth:
        missing = []
        for name in INGRESS_DEPENDENCIES:
            try:
                import_module(name)
            except ImportError as exc:
                missing.append(f"{name}: {exc}")
        if missing:
            return ModelHealth(name="ingress", ready=False, detail="missing dependencies: " + "; ".join(missing))
        try:
            await asyncio.wait_for(self._store.count_active(), settings().ready_timeout_s)
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure
            return ModelHealth(name="ingress", ready=False, detail=f"job store unusable: {type(exc).__name__}: {exc}")
        pool = self._pool.status()  # workers pass a PyMuPDF self-test when they start; a busy pool is ready
        return ModelHealth(name="ingress", ready=pool.ready, detail=pool.describe())

    async def _model_health(self, role: str, handle: DeploymentHandle) -> ModelHealth:
        """The deployment's own health answer. That call waits behind the work a busy replica has taken (its
        ``max_ongoing_requests``): past the deadline, a deployment whose model answered before and which Serve
        reports HEALTHY (its replicas constructed, their model loaded and run once, and passing Serve's health
        checks) is busy, not unready; readiness never competes with the work it vouches for (issue 26)."""
        timeout_s = settings().ready_timeout_s
        try:
            health: ModelHealth = await asyncio.wait_for(handle.health.remote(), timeout_s)
            self._answered[role] = health
            return health
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure
            detail = f"{type(exc).__name__}: {exc}".strip()[:500] or type(exc).__name__
            status = await asyncio.to_thread(_deployment_status, handle.deployment_name)
            seen = self._answered.get(role)
            healthy = status.startswith("[HEALTHY]")  # Serve's DeploymentStatus.HEALTHY
            if isinstance(exc, TimeoutError) and seen is not None and healthy:
                busy = f"busy: its health call waited past {timeout_s:g} s behind work; Serve reports it {status}"
                return seen.model_copy(update={"detail": busy.strip()})
            return ModelHealth(name=role, ready=False, detail=f"{detail} {status}".strip())
