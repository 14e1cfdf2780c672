"""A docling task's life as a docgraph job: submitted (a file that cannot be opened is refused at once), its status
(polled, waited for, streamed over the status websocket: serve/doclingapi/statusws.py), and its result in
docling's response models.

``DoclingTasks`` is mixed into ``DoclingRoutes`` (serve/doclingapi/routes.py) and through it into the ingress,
whose pool, job runner and store it uses.
"""

from __future__ import annotations

import asyncio
import re
import time

from docling.datamodel.service.responses import MessageKind, TaskStatusResponse, WebsocketMessage
from fastapi import HTTPException, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from packaging.version import Version

from pipeline.graph import DocumentGraph
from pipeline.options import parse_page_range
from pipeline.pdfpool import PdfPool
from serve.args import AppArgs
from serve.doclingapi.errors import DoclingHttpError
from serve.doclingapi.models import DoclingTask, TaskKind
from serve.doclingapi.options import ParsedOptions
from serve.doclingapi.responses import (
    chunk_response,
    convert_response,
    failure_result,
    is_timeout,
    response_body,
    task_status,
)
from serve.doclingapi.statusws import StatusStream
from serve.intake import safe_name
from serve.jobs.models import JOB_ID_PATTERN, JobRecord, JobRequest, JobState
from serve.jobs.runner import JobRunner
from serve.jobs.store import JobStore

TASK_ID = re.compile(JOB_ID_PATTERN)
RESULT_NOT_FOUND = "Task result not found. Please wait for a completion status."  # docling-client reads this


def task_not_found() -> HTTPException:
    return DoclingHttpError(404, "Task not found.", "task_not_found")


def still_running(task_id: str, waited_s: float) -> HTTPException:
    return DoclingHttpError(
        504,
        f"Conversion is taking too long: docgraph waited docling.sync_wait_s={waited_s:g} s. The task goes on: "
        f"GET /v1/status/poll/{task_id}, then GET /v1/result/{task_id}",
        "sync_wait_exceeded",
    )


class DoclingTasks:
    """The task lifecycle behind the docling routes; uses the ingress's pool, job runner and store."""

    _args: AppArgs
    _pool: PdfPool
    _jobs: JobRunner
    _store: JobStore

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
            raise task_not_found()
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

    async def _task_status(self, record: JobRecord) -> TaskStatusResponse:
        position = None
        if record.status.state is JobState.QUEUED:
            queued = await self._store.claimable(time.time(), 1000)
            position = queued.index(record.status.id) + 1 if record.status.id in queued else None
        return task_status(record.status, record.request.docling, position=position)

    async def _answer_when_done(self, task_id: str, request: Request, version: Version | None) -> Response:
        record = await self._wait_final(task_id, self._args.docling.sync_wait_s, request)
        if record is None:
            raise still_running(task_id, self._args.docling.sync_wait_s)
        return await self._result(record, sync=True, version=version)

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

    async def _result(self, record: JobRecord, *, sync: bool, version: Version | None) -> Response:
        """The ended task's answer; its DoclingDocument (if any) at ``version``'s schema (docversion.py)."""
        if not sync and record.status.state in (JobState.FAILED, JobState.CANCELLED):
            return JSONResponse(failure_result(record.status).model_dump(mode="json"))
        graph = await self._graph(record)
        task = record.request.docling or DoclingTask()
        status = record.status
        elapsed = (status.finished_at or time.time()) - (status.started_at or status.created_at)
        build = chunk_response if task.kind is TaskKind.CHUNK else convert_response

        def answer() -> bytes:
            return response_body(build(graph, task, elapsed), version)

        body = await asyncio.to_thread(answer)  # docling-core's exports: off the event loop
        return Response(body, media_type="application/json")

    async def _stream_status(self, websocket: WebSocket, task_id: str) -> None:
        """docling-serve's status stream on an authorised websocket (serve/doclingapi/statusws.py)."""
        await websocket.accept()
        record = await self._store.get(task_id) if TASK_ID.fullmatch(task_id) else None
        if record is None:
            await websocket.send_text(
                WebsocketMessage(message=MessageKind.ERROR, error="Task not found.").model_dump_json()
            )
            await websocket.close()
            return
        await StatusStream(websocket, task_id, self._record, self._task_status).run(record)
