"""Errors of the docling-serve routes in docling-serve's shape: ``{"detail": ..., "code": ...}`` (``detail`` is what
its clients show, ``code`` docgraph's stable error code), through their route class ``DoclingRoute``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.errors import DocgraphError
from pipeline.options import InvalidOptionsError
from serve.auth import settings
from serve.doclingapi.models import DoclingErrorBody
from serve.errors import CLIENT_LEFT_STATUS, client_left, status_for

log = logging.getLogger("docgraph.serve")

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": DoclingErrorBody} for code in (400, 401, 403, 404, 413, 415, 422, 500, 503, 504)
}


class DoclingHttpError(HTTPException):
    """An HTTP error of these routes with docgraph's code beside docling's ``detail``."""

    def __init__(self, status_code: int, detail: Any, code: str) -> None:
        super().__init__(status_code=status_code, detail=detail)
        self.code = code


def detail_response(status: int, detail: Any, code: str) -> JSONResponse:
    headers = {"Retry-After": "5"} if status in (429, 503) else None
    return JSONResponse(status_code=status, content={"detail": detail, "code": code}, headers=headers)


def error_response(exc: Exception, request: Request) -> JSONResponse:
    """Any error of a docling route as docling's body: docgraph's errors with their status (serve/errors.py)."""
    if isinstance(exc, InvalidOptionsError):  # a bad value of a known option: 422, as docling-serve
        return detail_response(422, exc.message, exc.code)
    if isinstance(exc, DocgraphError):
        log.info("docling request failed: %s (%s)", exc.code, exc.message)
        return detail_response(status_for(exc), exc.message, exc.code)
    if isinstance(exc, RequestValidationError):
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return detail_response(422, errors, "invalid_request")
    if isinstance(exc, ValidationError | RecursionError):
        return detail_response(422, f"invalid request: {str(exc).splitlines()[0][:300]}", "invalid_request")
    if isinstance(exc, StarletteHTTPException):
        code = getattr(exc, "code", None) or {401: "unauthorized", 404: "not_found"}.get(exc.status_code)
        return detail_response(exc.status_code, exc.detail, code or "invalid_request")
    return unexpected_error(exc, request)


def unexpected_error(exc: Exception, request: Request) -> JSONResponse:
    """What no rule answers: a client that went away (INFO, no traceback: not an error), else a 500 whose
    traceback is logged."""
    if client_left(exc):
        log.info("%s %s ended: the client left (%s)", request.method, request.url.path, type(exc).__name__)
        return detail_response(CLIENT_LEFT_STATUS, "the client went away", "client_left")
    log.error("unexpected error in %s", request.url.path, exc_info=exc)
    debug = f"{type(exc).__name__}: {exc}" if settings().debug else "internal error; see the service logs"
    return detail_response(500, debug, "internal_error")


class DoclingRoute(APIRoute):
    """Errors of these routes in docling-serve's shape (``detail``, which its clients show), with docgraph's code."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # noqa: BLE001 - every error answers in docling's shape
                return error_response(exc, request)

        return route
