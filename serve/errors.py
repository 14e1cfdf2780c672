"""The one table from exceptions to HTTP: JSON problem bodies ``{code, message, details}``."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ray.exceptions import TaskCancelledError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from pipeline.errors import (
    CorruptDocumentError,
    DocgraphError,
    DocumentTimeoutError,
    DocumentTooLargeError,
    EmptyDocumentError,
    InvalidDocumentError,
    ModelUnavailableError,
    NotAPdfError,
    PageRenderError,
    PasswordRequiredError,
    PdfWorkerCrashedError,
    PdfWorkersBusyError,
    RenderBudgetBusyError,
    StepTimeoutError,
    UnusableDocumentError,
)
from pipeline.options import InvalidOptionsError
from serve.api import ErrorBody
from serve.jobs.errors import JobNotFinishedError, JobNotFoundError, QueueFullError

log = logging.getLogger("docgraph.serve")
CLIENT_LEFT_STATUS = 499  # nginx's "client closed request": never delivered, it is what the logs and metrics read

STATUS: list[tuple[type[DocgraphError], int]] = [  # first match wins: subclasses before bases
    (EmptyDocumentError, 400),
    (CorruptDocumentError, 400),
    (InvalidOptionsError, 400),
    (NotAPdfError, 415),
    (DocumentTooLargeError, 413),
    (PasswordRequiredError, 422),
    (UnusableDocumentError, 422),
    (InvalidDocumentError, 400),
    (DocumentTimeoutError, 504),
    (StepTimeoutError, 504),  # a document-level step (open) ran past its deadline; a page's is on the page
    (PdfWorkerCrashedError, 422),  # opening this PDF crashed the PDF reader (its worker was replaced)
    (PageRenderError, 422),  # a page image (POST /v1/render, zip) that would break the render budget
    (PdfWorkersBusyError, 503),
    (RenderBudgetBusyError, 503),
    (ModelUnavailableError, 503),
    (JobNotFoundError, 404),
    (JobNotFinishedError, 409),
    (QueueFullError, 503),
]


def client_left(exc: BaseException) -> bool:
    """A request whose client went away, not an error: Starlette's ``ClientDisconnect`` (the body stopped
    coming), or Ray's ``TaskCancelledError``, raised by the replica's pending ``receive`` (and any call in flight)
    when Serve cancels a request whose client disconnected, e.g. a server-sent events stream it stopped reading."""
    return isinstance(exc, ClientDisconnect | TaskCancelledError)


def status_for(exc: DocgraphError) -> int:
    return next((status for cls, status in STATUS if isinstance(exc, cls)), 500)


def problem(status: int, code: str, message: str, details: Mapping[str, object] | None = None) -> JSONResponse:
    body = ErrorBody(code=code, message=message, details=dict(details or {}))
    headers = {"Retry-After": "5"} if status in (429, 503) else None
    return JSONResponse(status_code=status, content=body.model_dump(), headers=headers)


def install_error_handlers(app: FastAPI, *, debug: bool) -> None:
    @app.exception_handler(DocgraphError)
    async def _domain(_: Request, exc: DocgraphError) -> JSONResponse:
        status = status_for(exc)
        log.info("request failed: %s %s (%s)", status, exc.code, exc.message)
        details = {k: v for k, v in exc.context.items() if isinstance(v, str | int | float | bool)}
        return problem(status, exc.code, exc.message, details)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(map(str, e.get("loc", ()))), "msg": str(e.get("msg", ""))} for e in exc.errors()]
        return problem(400, "invalid_request", "the request's parameters are invalid", {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 503: "overloaded"}.get(
            exc.status_code, "http_error"
        )
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if client_left(exc):
            log.info("%s %s ended: the client left (%s)", request.method, request.url.path, type(exc).__name__)
            return problem(CLIENT_LEFT_STATUS, "client_left", "the client went away")
        log.error("unexpected error", exc_info=exc)
        message = f"{type(exc).__name__}: {exc}" if debug else "internal error; see the service logs"
        return problem(500, "internal_error", message)
