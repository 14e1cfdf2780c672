"""Where a docling task's document comes from, checked before it becomes a job: the request body (bounded), the one
source of ``/v1/convert/source`` (validated; its target inbody), a ``kind: file`` source's base64 decoded, and a
``kind: http`` source fetched only from an allowed host (no redirects, bounded in size and in time: no SSRF)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import Any

import httpx
from docling.datamodel.service.requests import FileSourceRequest, HttpSourceRequest, SourceRequestItem
from fastapi import Request
from pydantic import TypeAdapter, ValidationError

from pipeline.errors import DocumentTooLargeError
from serve.args import DoclingApiConfig
from serve.doclingapi.errors import DoclingHttpError

ARTIFACTS_REFUSED = "Presigned URL target requires artifact storage to be configured and enabled on the server."
SOURCES = TypeAdapter(list[SourceRequestItem])
MAX_ERRORS = 20  # validation errors answered at most: one per invalid item would amplify a hostile body
OFF_LOOP_BYTES = 1 << 20  # larger JSON bodies and base64 strings are decoded in a thread, not on the event loop


def check_target(kind: str | None) -> None:
    if kind in (None, "", "inbody"):
        return
    if kind == "presigned_url":  # docling-client then falls back to inbody (its documented behaviour)
        raise DoclingHttpError(422, ARTIFACTS_REFUSED, "unsupported_target")
    raise DoclingHttpError(
        422, f"target {str(kind)[:50]!r} is not supported by docgraph: use inbody", "unsupported_target"
    )


def one_document(items: list[Any], what: str) -> Any:
    if len(items) != 1:
        raise DoclingHttpError(
            422, f"docgraph converts one document per request ({len(items)} {what} sent)", "one_document_per_request"
        )
    return items[0]


async def read_body(request: Request, limit: int) -> bytes:
    """A raw body, at most ``limit`` bytes (serve/bodylimit.py caps it while it streams, too)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise DocumentTooLargeError(f"the request body is larger than the limit of {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object (at most ``limit`` bytes; a large one parsed off the event loop)."""
    raw = await read_body(request, limit)
    try:
        body = json.loads(raw) if len(raw) < OFF_LOOP_BYTES else await asyncio.to_thread(json.loads, raw)
    except (ValueError, RecursionError) as exc:
        raise DoclingHttpError(422, f"the body is not JSON: {str(exc)[:200]}", "invalid_request") from exc
    del raw
    if not isinstance(body, dict):
        raise DoclingHttpError(422, "the body must be a JSON object", "invalid_request")
    return body


def one_source(body: dict[str, Any]) -> SourceRequestItem:
    """The body's one source, validated (its target inbody); at most ``MAX_ERRORS`` validation errors answered."""
    target = body.get("target")
    check_target(target.get("kind") if isinstance(target, dict) else None)
    items = body.get("sources")
    if isinstance(items, list):
        one_document(items, "sources")  # before validating any: a million invalid sources get one answer, not a million
    try:
        sources = SOURCES.validate_python(items)
    except ValidationError as exc:
        found = exc.errors()
        errors = [{"loc": ["body", "sources", *map(str, e["loc"])], "msg": e["msg"]} for e in found[:MAX_ERRORS]]
        if len(found) > MAX_ERRORS:
            errors.append({"loc": ["body", "sources"], "msg": f"and {len(found) - MAX_ERRORS} more errors"})
        raise DoclingHttpError(422, errors, "invalid_request") from exc
    return sources[0]


async def source_bytes(source: SourceRequestItem, config: DoclingApiConfig, limit: int) -> tuple[bytes, str | None]:
    """The source's document and its file name: a file source decoded, an http source fetched."""
    if isinstance(source, FileSourceRequest):
        return await decode_base64(source.base64_string), source.filename
    return await fetch_http(source, config, limit)


async def decode_base64(encoded: str) -> bytes:
    try:
        return (
            base64.b64decode(encoded, validate=True)
            if len(encoded) < OFF_LOOP_BYTES
            else await asyncio.to_thread(base64.b64decode, encoded, validate=True)
        )
    except (binascii.Error, ValueError) as exc:
        raise DoclingHttpError(422, "base64_string is not base64", "invalid_request") from exc


async def fetch_http(source: HttpSourceRequest, config: DoclingApiConfig, limit: int) -> tuple[bytes, str]:
    """An http source, only from an allowed host; no redirects, bounded in size and in total time."""
    url = httpx.URL(str(source.url))
    host = url.host if url.port is None else f"{url.host}:{url.port}"  # httpx lower-cases the host
    if host not in {h.lower() for h in config.http_source_hosts}:
        raise DoclingHttpError(
            403,
            f"http sources are refused: {host[:100]!r} is not in docling.http_source_hosts (empty by default); "
            "send the file itself (kind: file, or POST /v1/convert/file)",
            "source_not_allowed",
        )
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
                    raise DocumentTooLargeError(f"the source is larger than the limit of {limit} bytes", limit=limit)
                chunks.append(chunk)
    except TimeoutError as exc:
        raise DoclingHttpError(
            422, f"fetching the source took longer than {config.http_source_timeout_s:g} s", "source_unavailable"
        ) from exc
    except httpx.HTTPError as exc:
        raise DoclingHttpError(422, f"fetching the source failed: {type(exc).__name__}", "source_unavailable") from exc
    return b"".join(chunks), url.path.rsplit("/", 1)[-1] or "document.pdf"
