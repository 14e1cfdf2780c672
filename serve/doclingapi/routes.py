"""docling-serve's v1 routes, mixed into the ingress class (Serve turns inherited route methods into the replica's).

- ``POST /v1/convert/file`` | ``/v1/convert/source`` (+ ``/async``): one document per request; the sync forms wait
  up to ``docling.sync_wait_s`` for the task, then answer 504 naming it (the task goes on: nothing is lost).
- ``GET /v1/status/poll/{task_id}?wait=S``, ``WS /v1/status/ws/{task_id}``, ``GET /v1/result/{task_id}``.
- ``POST /v1/chunk/hierarchical/file`` | ``/source`` (+ ``/async``): docling-core's HierarchicalChunker.
- ``PUT /process``: Open WebUI's "External" document loader (raw body, ``X-Filename``) → ``{page_content, metadata}``.
- ``GET /health``, ``/livez``, ``/version``: docling-serve's probes (open, like ``/healthz``).

``Accept-Docling-Document-Version`` (docling-client sends its docling-core's on every request): a DoclingDocument
answered is written at the newest schema docgraph writes that is not newer (1.5.0 without the header); older than
1.5.0 or not a version: 422 ``unsupported_document_version`` (serve/doclingapi/docversion.py).

A task is a docgraph job (``JobRequest.docling`` says how to answer), so it lives in the job store: it survives an
ingress restart and any replica answers for it. Errors are docling-shaped: ``{"detail": ..., "code": ...}``.
"""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time.

import asyncio
import urllib.parse
from importlib import metadata
from typing import Annotated, Any

from docling.datamodel.service.responses import (
    ChunkDocumentResponse,
    ConvertDocumentResponse,
    HealthCheckResponse,
    TaskFailureResult,
    TaskStatusResponse,
)
from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile, WebSocket
from fastapi.responses import Response

from pipeline.export import MarkdownSerializer
from pipeline.version import VERSION
from serve.auth import given_key, key_matches, require_api_key
from serve.doclingapi.docversion import HEADER, accepted_version
from serve.doclingapi.errors import ERRORS, DoclingHttpError, DoclingRoute
from serve.doclingapi.models import TaskKind
from serve.doclingapi.options import parse_form_options, parse_json_options
from serve.doclingapi.sources import check_target, json_body, one_document, one_source, read_body, source_bytes
from serve.doclingapi.tasks import RESULT_NOT_FOUND, DoclingTasks, still_running
from serve.intake import read_upload, safe_name
from serve.jobs.models import JobRecord

CHUNKERS = ("hierarchical",)
DocumentVersion = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description="The newest DoclingDocument schema the client reads (docling-client sends its docling-core's): "
        "the document is written at the newest schema docgraph writes that is not newer; without it, 1.5.0. "
        "Older than 1.5.0: 422.",
    ),
]
Files = Annotated[list[UploadFile], File(description="The PDF (one per request).")]
TargetType = Annotated[
    str, Form(description="inbody (presigned_url: refused, no artifact storage).")
]  # HybridChunker needs a tokenizer model: not offered (README)

docling_v1 = APIRouter(
    route_class=DoclingRoute,
    dependencies=[Depends(require_api_key)],
    tags=["docling-serve compatible"],
    responses=ERRORS,
)
docling_open = APIRouter(route_class=DoclingRoute, tags=["docling-serve compatible"])
docling_ws = APIRouter(tags=["docling-serve compatible"])


class DoclingRoutes(DoclingTasks):
    """Route methods of the ingress (``DocumentIngress`` inherits them); the task lifecycle is ``DoclingTasks``'
    (serve/doclingapi/tasks.py), sources are read and checked by serve/doclingapi/sources.py."""

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
        document_version: DocumentVersion = None,
    ) -> Response:
        """Convert an uploaded PDF; options as form fields (docling-serve's names; lists repeated or JSON)."""
        version = accepted_version(document_version)
        record = await self._submit_form(request, files, target_type, TaskKind.CONVERT, prefix="")
        return await self._answer_when_done(record.status.id, request, version)

    @docling_v1.post("/v1/convert/file/async", response_model=TaskStatusResponse)
    async def docling_convert_file_async(
        self,
        request: Request,
        files: Files,
        target_type: TargetType = "inbody",
        document_version: DocumentVersion = None,
    ) -> TaskStatusResponse:
        accepted_version(document_version)  # refused now rather than when the result is asked for
        record = await self._submit_form(request, files, target_type, TaskKind.CONVERT, prefix="")
        return await self._task_status(record)

    @docling_v1.post("/v1/convert/source", response_model=ConvertDocumentResponse)
    async def docling_convert_source(self, request: Request, document_version: DocumentVersion = None) -> Response:
        """Convert one source: ``{"sources": [{"kind": "file", "base64_string", "filename"}], "options": {...}}``;
        ``kind: http`` only from hosts on ``docling.http_source_hosts`` (none by default)."""
        version = accepted_version(document_version)
        record = await self._submit_json(request, TaskKind.CONVERT)
        return await self._answer_when_done(record.status.id, request, version)

    @docling_v1.post("/v1/convert/source/async", response_model=TaskStatusResponse)
    async def docling_convert_source_async(
        self, request: Request, document_version: DocumentVersion = None
    ) -> TaskStatusResponse:
        accepted_version(document_version)
        return await self._task_status(await self._submit_json(request, TaskKind.CONVERT))

    # --- chunk -----------------------------------------------------------------------------------------------
    @docling_v1.post("/v1/chunk/{chunker}/file", response_model=ChunkDocumentResponse)
    async def docling_chunk_file(
        self,
        chunker: str,
        request: Request,
        files: Files,
        target_type: TargetType = "inbody",
        document_version: DocumentVersion = None,
    ) -> Response:
        """Chunks for RAG with docling-core's HierarchicalChunker; conversion options as ``convert_<name>``."""
        _check_chunker(chunker)
        version = accepted_version(document_version)
        record = await self._submit_form(request, files, target_type, TaskKind.CHUNK, prefix="convert_")
        return await self._answer_when_done(record.status.id, request, version)

    @docling_v1.post("/v1/chunk/{chunker}/file/async", response_model=TaskStatusResponse)
    async def docling_chunk_file_async(
        self,
        chunker: str,
        request: Request,
        files: Files,
        target_type: TargetType = "inbody",
        document_version: DocumentVersion = None,
    ) -> TaskStatusResponse:
        _check_chunker(chunker)
        accepted_version(document_version)
        record = await self._submit_form(request, files, target_type, TaskKind.CHUNK, prefix="convert_")
        return await self._task_status(record)

    @docling_v1.post("/v1/chunk/{chunker}/source", response_model=ChunkDocumentResponse)
    async def docling_chunk_source(
        self, chunker: str, request: Request, document_version: DocumentVersion = None
    ) -> Response:
        _check_chunker(chunker)
        version = accepted_version(document_version)
        record = await self._submit_json(request, TaskKind.CHUNK)
        return await self._answer_when_done(record.status.id, request, version)

    @docling_v1.post("/v1/chunk/{chunker}/source/async", response_model=TaskStatusResponse)
    async def docling_chunk_source_async(
        self, chunker: str, request: Request, document_version: DocumentVersion = None
    ) -> TaskStatusResponse:
        _check_chunker(chunker)
        accepted_version(document_version)
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
    async def docling_result(self, task_id: str, document_version: DocumentVersion = None) -> Response:
        """The ended task's result (ConvertDocumentResponse or ChunkDocumentResponse), TaskFailureResult when it
        failed, 404 before it ended (a result is never given before it is whole). Its DoclingDocument is written
        for this request's Accept-Docling-Document-Version (1.5.0 without it, which fits any accepted one)."""
        version = accepted_version(document_version)
        record = await self._record(task_id)
        if not record.status.state.final:
            raise DoclingHttpError(404, RESULT_NOT_FOUND, "task_not_finished")
        return await self._result(record, sync=False, version=version)

    @docling_ws.websocket("/v1/status/ws/{task_id}")
    async def docling_ws_status(self, websocket: WebSocket, task_id: str) -> None:
        """docling-serve's status stream: a ``connection`` message, then an ``update`` per client message until the
        task ended. The API key comes in a header (X-Api-Key or Bearer), never in the URL."""
        if not key_matches(given_key(websocket.headers.get("x-api-key"), websocket.headers.get("authorization"))):
            await websocket.close(code=1008, reason="missing or wrong API key")  # refuses the handshake: HTTP 403
            return
        await self._stream_status(websocket, task_id)

    # --- Open WebUI's external loader ------------------------------------------------------------------------
    @docling_v1.put("/process", include_in_schema=True)
    async def openwebui_process(self, request: Request) -> dict[str, Any]:
        """Open WebUI's "External" content extraction: the raw file as the body, ``X-Filename`` its (URL-quoted)
        name, ``Authorization: Bearer <key>`` → ``{page_content, metadata}`` (page_content: docgraph's Markdown)."""
        data = await read_body(request, self._args.limits.max_bytes)
        name = safe_name(urllib.parse.unquote(request.headers.get("x-filename", ""))) or "document.pdf"
        record = await self._submit(data, name, parse_json_options({"to_formats": ["md"]}), TaskKind.CONVERT)
        done = await self._wait_final(record.status.id, self._args.docling.sync_wait_s, request)
        if done is None:
            raise still_running(record.status.id, self._args.docling.sync_wait_s)
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

    # --- request → task --------------------------------------------------------------------------------------
    async def _submit_form(
        self, request: Request, files: list[UploadFile], target_type: str, kind: TaskKind, *, prefix: str
    ) -> JobRecord:
        check_target(target_type)
        upload = one_document(files, "files")
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
        body = await json_body(request, self._args.limits.max_bytes + 64 * 1024)
        source = one_source(body)
        parsed = parse_json_options(body.get("convert_options" if kind is TaskKind.CHUNK else "options"))
        data, name = await source_bytes(source, self._args.docling, self._args.limits.max_bytes)
        include_doc = kind is TaskKind.CHUNK and body.get("include_converted_doc") is True
        return await self._submit(data, name, parsed, kind, include_converted_doc=include_doc)


def _check_chunker(chunker: str) -> None:
    if chunker not in CHUNKERS:
        raise DoclingHttpError(
            404,
            f"chunker {chunker[:50]!r} is not offered: docgraph has {', '.join(CHUNKERS)} "
            "(HybridChunker needs a tokenizer model, which docgraph does not load)",
            "chunker_not_offered",
        )
