"""docling-serve's v1 routes, mixed into the ingress class (Serve turns inherited route methods into the replica's).

- ``POST /v1/convert/file`` | ``/v1/convert/source`` (+ ``/async``): one document per request; the sync forms wait
  up to ``docling.sync_wait_s`` for the task, then answer 504 naming it (the task goes on: nothing is lost).
- ``GET /v1/status/poll/{task_id}?wait=S``, ``WS /v1/status/ws/{task_id}``, ``GET /v1/result/{task_id}``.
- ``POST /v1/chunk/hierarchical/file`` | ``/source`` (+ ``/async``): docling-core's HierarchicalChunker.
- ``PUT /process``: Open WebUI's "External" document loader (raw body, ``X-Filename``) → ``{page_content, metadata}``.
- ``GET /health``, ``/livez``, ``/version``: docling-serve's probes (open, like ``/healthz``).

A task is a docgraph job (``JobRequest.docling`` says how to answer), so it lives in the job store: it survives an
ingress restart and any replica answers for it. Errors are docling-shaped: ``{"detail": ..., "code": ...}``.
"""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time.

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
import time
import urllib.parse
from collections.abc import Callable, Coroutine
from importlib import metadata
from typing import Annotated, Any

import httpx
from docling.datamodel.service.requests import FileSourceRequest, HttpSourceRequest, SourceRequestItem
from docling.datamodel.service.responses import (
    ChunkDocumentResponse,
    ConvertDocumentResponse,
    HealthCheckResponse,
    MessageKind,
    TaskFailureResult,
    TaskStatusResponse,
    WebsocketMessage,
)
from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.websockets import WebSocketDisconnect

from pipeline.errors import DocgraphError, DocumentTooLargeError
from pipeline.export import MarkdownSerializer
from pipeline.graph import DocumentGraph
from pipeline.options import InvalidOptionsError, parse_page_range
from pipeline.pdfpool import PdfPool
from pipeline.version import VERSION
from serve.args import AppArgs
from serve.auth import given_key, key_matches, require_api_key, settings
from serve.doclingapi.models import DoclingErrorBody, DoclingTask, TaskKind
from serve.doclingapi.options import ParsedOptions, parse_form_options, parse_json_options
from serve.doclingapi.responses import chunk_response, convert_response, failure_result, is_timeout, task_status
from serve.errors import status_for
from serve.intake import read_upload, safe_name
from serve.jobs.models import JOB_ID_PATTERN, JobRecord, JobRequest, JobState
from serve.jobs.runner import JobRunner
from serve.jobs.store import JobStore

log = logging.getLogger("docgraph.serve")
TASK_ID = re.compile(JOB_ID_PATTERN)
RESULT_NOT_FOUND = "Task result not found. Please wait for a completion status."  # docling-client reads this
ARTIFACTS_REFUSED = "Presigned URL target requires artifact storage to be configured and enabled on the server."
SOURCES = TypeAdapter(list[SourceRequestItem])
MAX_ERRORS = 20  # validation errors answered at most: one per invalid item would amplify a hostile body
OFF_LOOP_BYTES = 1 << 20  # larger JSON bodies and base64 strings are decoded in a thread, not on the event loop
CHUNKERS = ("hierarchical",)
Files = Annotated[list[UploadFile], File(description="The PDF (one per request).")]
TargetType = Annotated[
    str, Form(description="inbody (presigned_url: refused, no artifact storage).")
]  # HybridChunker needs a tokenizer model: not offered (README)


class DoclingHttpError(HTTPException):
    """An HTTP error of these routes with docgraph's code beside docling's ``detail``."""

    def __init__(self, status_code: int, detail: Any, code: str) -> None:
        super().__init__(status_code=status_code, detail=detail)
        self.code = code


def _detail(status: int, detail: Any, code: str) -> JSONResponse:
    headers = {"Retry-After": "5"} if status in (429, 503) else None
    return JSONResponse(status_code=status, content={"detail": detail, "code": code}, headers=headers)


def _error_response(exc: Exception, request: Request) -> JSONResponse:
    if isinstance(exc, InvalidOptionsError):  # a bad value of a known option: 422, as docling-serve
        return _detail(422, exc.message, exc.code)
    if isinstance(exc, DocgraphError):
        log.info("docling request failed: %s (%s)", exc.code, exc.message)
        return _detail(status_for(exc), exc.message, exc.code)
    if isinstance(exc, RequestValidationError):
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return _detail(422, errors, "invalid_request")
    if isinstance(exc, ValidationError | RecursionError):
        return _detail(422, f"invalid request: {str(exc).splitlines()[0][:300]}", "invalid_request")
    if isinstance(exc, StarletteHTTPException):
        code = getattr(exc, "code", None) or {401: "unauthorized", 404: "not_found"}.get(exc.status_code)
        return _detail(exc.status_code, exc.detail, code or "invalid_request")
    log.error("unexpected error in %s", request.url.path, exc_info=exc)
    debug = f"{type(exc).__name__}: {exc}" if settings().debug else "internal error; see the service logs"
    return _detail(500, debug, "internal_error")


class DoclingRoute(APIRoute):
    """Errors of these routes in docling-serve's shape (``detail``, which its clients show), with docgraph's code."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # noqa: BLE001 - every error answers in docling's shape
                return _error_response(exc, request)

        return route


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": DoclingErrorBody} for code in (400, 401, 403, 404, 413, 415, 422, 500, 503, 504)
}
docling_v1 = APIRouter(
    route_class=DoclingRoute,
    dependencies=[Depends(require_api_key)],
    tags=["docling-serve compatible"],
    responses=ERRORS,
)
docling_open = APIRouter(route_class=DoclingRoute, tags=["docling-serve compatible"])
docling_ws = APIRouter(tags=["docling-serve compatible"])


def _task_not_found() -> HTTPException:
    return DoclingHttpError(404, "Task not found.", "task_not_found")


def _check_target(kind: str | None) -> None:
    if kind in (None, "", "inbody"):
        return
    if kind == "presigned_url":  # docling-client then falls back to inbody (its documented behaviour)
        raise DoclingHttpError(422, ARTIFACTS_REFUSED, "unsupported_target")
    raise DoclingHttpError(
        422, f"target {str(kind)[:50]!r} is not supported by docgraph: use inbody", "unsupported_target"
    )


def _one(items: list[Any], what: str) -> Any:
    if len(items) != 1:
        raise DoclingHttpError(
            422, f"docgraph converts one document per request ({len(items)} {what} sent)", "one_document_per_request"
        )
    return items[0]


class DoclingRoutes:
    """Route methods of the ingress (``DocumentIngress`` inherits them); they use its pool, job runner and store."""

    _args: AppArgs
    _pool: PdfPool
    _jobs: JobRunner
    _store: JobStore

    # --- probes --------------------------------------------------------------------------------------------
    @docling_open.get("/health")
    async def docling_health(self) -> HealthCheckResponse:
        """docling-serve's liveness probe (docgraph's readiness, with every model checked: /readyz)."""
        return HealthCheckResponse()

    @docling_open.get("/livez")
    async def docling_livez(self) -> HealthCheckResponse:
        return HealthCheckResponse()

    @docling_open.get("/version")
    async def docling_version(self) -> dict[str, str]:
        """What answers: docgraph and the docling libraries whose wire format and documents it speaks."""
        versions = {"docgraph": VERSION}
        for dist in ("docling-core", "docling-slim"):
            versions[dist] = metadata.version(dist)
        return versions

    # --- convert ---------------------------------------------------------------------------------------------
    @docling_v1.post("/v1/convert/file", response_model=ConvertDocumentResponse)
    async def docling_convert_file(
        self,
        request: Request,
        files: Files,
        target_type: TargetType = "inbody",
    ) -> Response:
        """Convert an uploaded PDF; options as form fields (docling-serve's names; lists repeated or JSON)."""
        record = await self._submit_form(request, files, target_type, TaskKind.CONVERT, prefix="")
        return await self._answer_when_done(record.status.id, request)

    @docling_v1.post("/v1/convert/file/async", response_model=TaskStatusResponse)
    async def docling_convert_file_async(
        self,
        request: Request,
        files: Files,
        target_type: TargetType = "inbody",
    ) -> TaskStatusResponse:
        record = await self._submit_form(request, files, target_type, TaskKind.CONVERT, prefix="")
        return await self._task_status(record)

    @docling_v1.post("/v1/convert/source", response_model=ConvertDocumentResponse)
    async def docling_convert_source(self, request: Request) -> Response:
        """Convert one source: ``{"sources": [{"kind": "file", "base64_string", "filename"}], "options": {...}}``;
        ``kind: http`` only from hosts on ``docling.http_source_hosts`` (none by default)."""
        record = await self._submit_json(request, TaskKind.CONVERT)
        return await self._answer_when_done(record.status.id, request)

    @docling_v1.post("/v1/convert/source/async", response_model=TaskStatusResponse)
    async def docling_convert_source_async(self, request: Request) -> TaskStatusResponse:
        return await self._task_status(await self._submit_json(request, TaskKind.CONVERT))

    # --- chunk -----------------------------------------------------------------------------------------------
    @docling_v1.post("/v1/chunk/{chunker}/file", response_model=ChunkDocumentResponse)
    async def docling_chunk_file(
        self,
        chunker: str,
        request: Request,
        files: Files,
        target_type: TargetType = "inbody",
    ) -> Response:
        """Chunks for RAG with docling-core's HierarchicalChunker; conversion options as ``convert_<name>``."""
        _check_chunker(chunker)
        record = await self._submit_form(request, files, target_type, TaskKind.CHUNK, prefix="convert_")
        return await self._answer_when_done(record.status.id, request)

    @docling_v1.post("/v1/chunk/{chunker}/file/async", response_model=TaskStatusResponse)
    async def docling_chunk_file_async(
        self,
        chunker: str,
        request: Request,
        files: Files,
        target_type: TargetType = "inbody",
    ) -> TaskStatusResponse:
        _check_chunker(chunker)
        record = await self._submit_form(request, files, target_type, TaskKind.CHUNK, prefix="convert_")
        return await self._task_status(record)

    @docling_v1.post("/v1/chunk/{chunker}/source", response_model=ChunkDocumentResponse)
    async def docling_chunk_source(self, chunker: str, request: Request) -> Response:
        _check_chunker(chunker)
        record = await self._submit_json(request, TaskKind.CHUNK)
        return await self._answer_when_done(record.status.id, request)

    @docling_v1.post("/v1/chunk/{chunker}/source/async", response_model=TaskStatusResponse)
    async def docling_chunk_source_async(self, chunker: str, request: Request) -> TaskStatusResponse:
        _check_chunker(chunker)
        return await self._task_status(await self._submit_json(request, TaskKind.CHUNK))

    # --- tasks -----------------------------------------------------------------------------------------------
    @docling_v1.get("/v1/status/poll/{task_id}", response_model=TaskStatusResponse)
    async def docling_poll(
        self, task_id: str, wait: Annotated[float, Query(ge=0, description="Seconds to wait for the end.")] = 0.0
    ) -> TaskStatusResponse:
        """The task's status; with ``wait``, once it ended or after that many seconds (``docling.max_poll_wait_s``
        at most)."""
        record = await self._record(task_id)
        if not record.status.state.final and wait > 0:
            record = await self._wait_final(task_id, min(wait, self._args.docling.max_poll_wait_s)) or record
        return await self._task_status(record)

    @docling_v1.get(
        "/v1/result/{task_id}", response_model=ConvertDocumentResponse | ChunkDocumentResponse | TaskFailureResult
    )
    async def docling_result(self, task_id: str) -> Response:
        """The ended task's result (ConvertDocumentResponse or ChunkDocumentResponse), TaskFailureResult when it
        failed, 404 before it ended (a result is never given before it is whole)."""
        record = await self._record(task_id)
        if not record.status.state.final:
            raise DoclingHttpError(404, RESULT_NOT_FOUND, "task_not_finished")
        return await self._result(record, sync=False)

    @docling_ws.websocket("/v1/status/ws/{task_id}")
    async def docling_ws_status(self, websocket: WebSocket, task_id: str) -> None:
        """docling-serve's status stream: a ``connection`` message, then an ``update`` per client message until the
        task ended. The API key comes in a header (X-Api-Key or Bearer), never in the URL."""
        if not key_matches(given_key(websocket.headers.get("x-api-key"), websocket.headers.get("authorization"))):
            await websocket.close(code=1008, reason="missing or wrong API key")  # refuses the handshake: HTTP 403
            return
        await websocket.accept()
        record = await self._store.get(task_id) if TASK_ID.fullmatch(task_id) else None
        if record is None:
            await websocket.send_text(
                WebsocketMessage(message=MessageKind.ERROR, error="Task not found.").model_dump_json()
            )
            await websocket.close()
            return
        try:
            status = await self._task_status(record)
            await websocket.send_text(WebsocketMessage(message=MessageKind.CONNECTION, task=status).model_dump_json())
            last: tuple[str, int, int] | None = None
            while True:
                record = await self._record(task_id)
                if last is not None and not record.status.state.final:
                    record = await self._wait_change(task_id, last, 5.0) or record
                last = _progress_key(record)
                status = await self._task_status(record)
                await websocket.send_text(WebsocketMessage(message=MessageKind.UPDATE, task=status).model_dump_json())
                if record.status.state.final:
                    await websocket.close()
                    return
                await websocket.receive_text()  # the client asks for the next update
        except (WebSocketDisconnect, RuntimeError, KeyError):  # gone, closed, or a binary frame
            return
        except HTTPException:  # the task expired while streaming
            with contextlib.suppress(RuntimeError):
                await websocket.close()

    # --- Open WebUI's external loader ------------------------------------------------------------------------
    @docling_v1.put("/process", include_in_schema=True)
    async def openwebui_process(self, request: Request) -> dict[str, Any]:
        """Open WebUI's "External" content extraction: the raw file as the body, ``X-Filename`` its (URL-quoted)
        name, ``Authorization: Bearer <key>`` → ``{page_content, metadata}`` (page_content: docgraph's Markdown)."""
        data = await _read_body(request, self._args.limits.max_bytes)
        name = safe_name(urllib.parse.unquote(request.headers.get("x-filename", ""))) or "document.pdf"
        record = await self._submit(data, name, parse_json_options({"to_formats": ["md"]}), TaskKind.CONVERT)
        done = await self._wait_final(record.status.id, self._args.docling.sync_wait_s, request)
        if done is None:
            raise _still_running(record.status.id, self._args.docling.sync_wait_s)
        graph = await self._graph(done)
        return {
            "page_content": await asyncio.to_thread(MarkdownSerializer().serialize, graph),
            "metadata": {
                "source": name,
                "task_id": done.status.id,
                "status": graph.status.value,
                "page_count": graph.document.page_count,
                "pages": [{"page_no": p.page_no, "status": p.status.value} for p in graph.pages],
                "title": graph.document.title,
                "schema_version": graph.schema_version,
            },
        }

    # --- helpers ---------------------------------------------------------------------------------------------
    async def _submit_form(
        self, request: Request, files: list[UploadFile], target_type: str, kind: TaskKind, *, prefix: str
    ) -> JobRecord:
        _check_target(target_type)
        upload = _one(files, "files")
        form = await request.form()  # parsed already for `files`: Starlette keeps it
        fields: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if isinstance(value, str) and key.startswith(prefix) and not key.startswith("chunking_"):
                fields.setdefault(key[len(prefix) :], []).append(value)
        flag = form.get("include_converted_doc")  # unprefixed, beside convert_* and chunking_* (docling-client)
        include_doc = kind is TaskKind.CHUNK and isinstance(flag, str) and flag.lower() == "true"
        parsed = parse_form_options(fields)
        data = await read_upload(upload, self._args.limits)
        return await self._submit(data, upload.filename, parsed, kind, include_converted_doc=include_doc)

    async def _submit_json(self, request: Request, kind: TaskKind) -> JobRecord:
        raw = await _read_body(request, self._args.limits.max_bytes + 64 * 1024)
        try:
            body = json.loads(raw) if len(raw) < OFF_LOOP_BYTES else await asyncio.to_thread(json.loads, raw)
        except (ValueError, RecursionError) as exc:
            raise DoclingHttpError(422, f"the body is not JSON: {str(exc)[:200]}", "invalid_request") from exc
        del raw
        if not isinstance(body, dict):
            raise DoclingHttpError(422, "the body must be a JSON object", "invalid_request")
        target = body.get("target")
        _check_target(target.get("kind") if isinstance(target, dict) else None)
        items = body.get("sources")
        if isinstance(items, list):
            _one(items, "sources")  # before validating any: a million invalid sources get one answer, not a million
        try:
            sources = SOURCES.validate_python(items)
        except ValidationError as exc:
            found = exc.errors()
            errors = [{"loc": ["body", "sources", *map(str, e["loc"])], "msg": e["msg"]} for e in found[:MAX_ERRORS]]
            if len(found) > MAX_ERRORS:
                errors.append({"loc": ["body", "sources"], "msg": f"and {len(found) - MAX_ERRORS} more errors"})
            raise DoclingHttpError(422, errors, "invalid_request") from exc
        source = sources[0]
        parsed = parse_json_options(body.get("convert_options" if kind is TaskKind.CHUNK else "options"))
        if isinstance(source, FileSourceRequest):
            encoded = source.base64_string
            try:
                data = (
                    base64.b64decode(encoded, validate=True)
                    if len(encoded) < OFF_LOOP_BYTES
                    else await asyncio.to_thread(base64.b64decode, encoded, validate=True)
                )
            except (binascii.Error, ValueError) as exc:
                raise DoclingHttpError(422, "base64_string is not base64", "invalid_request") from exc
            name = source.filename
        else:
            data, name = await self._fetch(source)
        include_doc = kind is TaskKind.CHUNK and body.get("include_converted_doc") is True
        return await self._submit(data, name, parsed, kind, include_converted_doc=include_doc)

    async def _fetch(self, source: HttpSourceRequest) -> tuple[bytes, str]:
        """An http source, only from an allowed host; no redirects, bounded in size and in total time."""
        config = self._args.docling
        url = httpx.URL(str(source.url))
        host = url.host if url.port is None else f"{url.host}:{url.port}"  # httpx lower-cases the host
        if host not in {h.lower() for h in config.http_source_hosts}:
            raise DoclingHttpError(
                403,
                f"http sources are refused: {host[:100]!r} is not in docling.http_source_hosts (empty by default); "
                "send the file itself (kind: file, or POST /v1/convert/file)",
                "source_not_allowed",
            )
        limit = self._args.limits.max_bytes
        chunks: list[bytes] = []
        try:
            async with (
                asyncio.timeout(config.http_source_timeout_s),  # the whole fetch, not each read
                httpx.AsyncClient(follow_redirects=False, trust_env=False) as client,
                client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response,
            ):
                if response.status_code != 200:
                    raise DoclingHttpError(
                        422, f"fetching the source failed: HTTP {response.status_code}", "source_unavailable"
                    )
                size = 0
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > limit:
                        raise DocumentTooLargeError(
                            f"the source is larger than the limit of {limit} bytes", limit=limit
                        )
                    chunks.append(chunk)
        except TimeoutError as exc:
            raise DoclingHttpError(
                422, f"fetching the source took longer than {config.http_source_timeout_s:g} s", "source_unavailable"
            ) from exc
        except httpx.HTTPError as exc:
            raise DoclingHttpError(
                422, f"fetching the source failed: {type(exc).__name__}", "source_unavailable"
            ) from exc
        return b"".join(chunks), url.path.rsplit("/", 1)[-1] or "document.pdf"

    async def _submit(
        self,
        data: bytes,
        filename: str | None,
        parsed: ParsedOptions,
        kind: TaskKind,
        *,
        include_converted_doc: bool = False,
    ) -> JobRecord:
        """The task as a docgraph job; a file that cannot be opened is refused now (4xx), not as a failed task."""
        limits = self._args.limits
        doc = await self._pool.open(data, limits=limits, password=None)
        doc.close()
        options = parsed.convert_options(doc.page_count)
        task = parsed.task(kind, include_converted_doc=include_converted_doc)
        if parsed.document_timeout_s is not None:
            task = task.model_copy(update={"document_timeout_s": parsed.document_timeout_s})
        request = JobRequest(options=options, filename=safe_name(filename), docling=task)
        pages_total = len(parse_page_range(options.pages, doc.page_count))
        status = await self._jobs.submit(data, request, pages_total=pages_total)
        return JobRecord(status=status, request=request)

    async def _record(self, task_id: str) -> JobRecord:
        record = await self._store.get(task_id) if TASK_ID.fullmatch(task_id) else None
        if record is None:
            raise _task_not_found()
        return record

    async def _wait_final(self, task_id: str, timeout_s: float, request: Request | None = None) -> JobRecord | None:
        """The task's record once it ended, or None after ``timeout_s`` (or once the client is gone: the task
        goes on)."""
        deadline, delay = time.monotonic() + timeout_s, 0.05
        while True:
            record = await self._record(task_id)
            if record.status.state.final:
                return record
            if time.monotonic() >= deadline or (request is not None and await request.is_disconnected()):
                return None
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.5)

    async def _wait_change(self, task_id: str, last: tuple[str, int, int], timeout_s: float) -> JobRecord | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            record = await self._record(task_id)
            if record.status.state.final or _progress_key(record) != last:
                return record
        return None

    async def _task_status(self, record: JobRecord) -> TaskStatusResponse:
        position = None
        if record.status.state is JobState.QUEUED:
            queued = await self._store.claimable(time.time(), 1000)
            position = queued.index(record.status.id) + 1 if record.status.id in queued else None
        return task_status(record.status, record.request.docling, position=position)

    async def _answer_when_done(self, task_id: str, request: Request) -> Response:
        record = await self._wait_final(task_id, self._args.docling.sync_wait_s, request)
        if record is None:
            raise _still_running(task_id, self._args.docling.sync_wait_s)
        return await self._result(record, sync=True)

    async def _graph(self, record: JobRecord) -> DocumentGraph:
        body = await self._store.result(record.status.id)
        if record.status.state.has_result and body is None:  # expired between the status and the result
            raise DoclingHttpError(404, RESULT_NOT_FOUND, "result_expired")
        if not record.status.state.has_result or body is None:
            error = record.status.error
            code = error.code if error else record.status.state.value
            message = f"{code}: {error.message}" if error else f"the task ended {code}"
            raise DoclingHttpError(504 if is_timeout(code) else 422, f"Conversion failed: {message}", code)
        return await asyncio.to_thread(DocumentGraph.model_validate_json, body)

    async def _result(self, record: JobRecord, *, sync: bool) -> Response:
        if not sync and record.status.state in (JobState.FAILED, JobState.CANCELLED):
            return JSONResponse(failure_result(record.status).model_dump(mode="json"))
        graph = await self._graph(record)
        task = record.request.docling or DoclingTask()
        status = record.status
        elapsed = (status.finished_at or time.time()) - (status.started_at or status.created_at)
        build = chunk_response if task.kind is TaskKind.CHUNK else convert_response
        body = await asyncio.to_thread(build, graph, task, elapsed)  # docling-core's exports: off the event loop
        return Response(body.model_dump_json(), media_type="application/json")


def _check_chunker(chunker: str) -> None:
    if chunker not in CHUNKERS:
        raise DoclingHttpError(
            404,
            f"chunker {chunker[:50]!r} is not offered: docgraph has {', '.join(CHUNKERS)} "
            "(HybridChunker needs a tokenizer model, which docgraph does not load)",
            "chunker_not_offered",
        )


def _progress_key(record: JobRecord) -> tuple[str, int, int]:
    """What a status update reports: an update is sent when it changed (or every few seconds)."""
    return record.status.state.value, record.status.pages_done, record.status.pages_failed


def _still_running(task_id: str, waited_s: float) -> HTTPException:
    return DoclingHttpError(
        504,
        f"Conversion is taking too long: docgraph waited docling.sync_wait_s={waited_s:g} s. The task goes on: "
        f"GET /v1/status/poll/{task_id}, then GET /v1/result/{task_id}",
        "sync_wait_exceeded",
    )


async def _read_body(request: Request, limit: int) -> bytes:
    """A raw body, at most ``limit`` bytes (serve/bodylimit.py caps it while it streams, too)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise DocumentTooLargeError(f"the request body is larger than the limit of {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)
