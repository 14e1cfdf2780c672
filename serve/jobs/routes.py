"""docgraph's jobs API, mixed into the ingress class (Serve turns inherited route methods into the replica's).

- ``POST /v1/jobs``: start converting a PDF of any size in the background (202, the job's id and links).
- ``GET /v1/jobs/{id}`` (status), ``DELETE /v1/jobs/{id}`` (cancel), ``GET /v1/jobs/{id}/result`` (the graph, once
  whole), ``GET /v1/jobs/{id}/events`` (server-sent events), ``GET /v1/jobs/{id}/pages/{n}/image`` (a page's PNG).

``JobRoutes`` uses the ingress's pool, job runner, store and upload cache.
"""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time.

from typing import Annotated

from fastapi import Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse

from pipeline import ConvertOptions, DocumentGraph, PdfPool
from pipeline.export import ExportOptions, exporter
from pipeline.options import InvalidOptionsError, parse_page_range
from serve.api import ERRORS, PNG, ErrorBody, OutputFormat
from serve.args import AppArgs
from serve.auth import v1_router
from serve.intake import FURNITURE_HELP, convert_options, read_upload, safe_name
from serve.jobs.errors import JobNotFinishedError, JobNotFoundError
from serve.jobs.events import job_events
from serve.jobs.models import JOB_ID_PATTERN, JobAccepted, JobRecord, JobRequest, JobStatus
from serve.jobs.runner import JobRunner
from serve.jobs.store import JobStore
from serve.pageimage import PREVIEW_DPI, DpiQuery, UploadCache, page_png

jobs_v1 = v1_router()
JOB_ERRORS: dict[int | str, dict[str, object]] = {code: {"model": ErrorBody} for code in (400, 401, 404, 409, 500)}
IMAGE_ERRORS: dict[int | str, dict[str, object]] = {
    **JOB_ERRORS,
    **{code: {"model": ErrorBody} for code in (422, 503, 504)},
}
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN, description="The id POST /v1/jobs returned.")]


def job_links(job_id: str) -> dict[str, str]:
    base = f"/v1/jobs/{job_id}"
    return {"status_url": base, "result_url": f"{base}/result", "events_url": f"{base}/events"}


class JobRoutes:
    """Route methods of the ingress (``DocumentIngress`` inherits them) for its background jobs."""

    _args: AppArgs
    _pool: PdfPool
    _jobs: JobRunner
    _store: JobStore
    _uploads: UploadCache  # jobs' PDFs for their page images

    @jobs_v1.post("/jobs", tags=["jobs"], status_code=202, responses={202: {"model": JobAccepted}, **ERRORS})
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
        body = JobAccepted(id=status.id, state=status.state, **job_links(status.id))
        return JSONResponse(status_code=202, content=body.model_dump(), headers={"Location": body.status_url})

    @jobs_v1.get("/jobs/{job_id}", tags=["jobs"], responses=JOB_ERRORS)
    async def job_status(self, job_id: JobId) -> JobStatus:
        """State, pages total/done/failed, and each page's steps with their timings."""
        return (await self._job(job_id)).status

    @jobs_v1.delete("/jobs/{job_id}", tags=["jobs"], status_code=202, responses=JOB_ERRORS)
    async def cancel_job(self, job_id: JobId) -> JobStatus:
        """Cancel a job: queued ones at once; running ones stop (their model calls are abandoned) within ~1 s."""
        record = await self._jobs.cancel(job_id)
        if record is None:
            raise JobNotFoundError(f"no job {job_id} (never existed, or expired)")
        return record.status

    @jobs_v1.get(
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

    @jobs_v1.get(
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

    @jobs_v1.get(
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
