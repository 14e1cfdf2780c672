"""Bounds on request bodies that hold while the body streams in, before FastAPI parses (and spools) a form.

FastAPI reads a multipart form completely before the endpoint runs, so a size check in the endpoint comes
after the bytes arrived. This ASGI middleware refuses a declared ``Content-Length`` over the cap at once and
counts the bytes of bodies without one (chunked): at the cap it stops reading and answers 413 itself. The cap
comes from the app's ``limits.max_bytes`` (set by the ingress when it starts) plus room for the multipart
framing. A body that trickles is cut off too (408 ``slow_upload``): no bytes for ``idle_timeout_s``, or, once
``grace_s`` passed, less than ``min_rate`` bytes/s on average, so a slow client cannot hold a request slot.

The ``receive`` the app gets here also reads Ray's ``TaskCancelledError`` as what it means, ``http.disconnect``:
Serve cancels a request whose client went away, and with it the replica's pending receive, which then raises
that error (e.g. under a server-sent events stream, in Starlette's disconnect listener). Raised, it was logged as
an unexpected error, then re-raised by Starlette into a cancelled task ("Task exception was never retrieved").
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, ClassVar

from ray.exceptions import TaskCancelledError

Scope = dict[str, Any]
Message = dict[str, Any]


class BodyLimitMiddleware:
    # set once per process by the ingress (serve/ingress.py) from its Limits
    max_bytes: ClassVar[int | None] = None
    idle_timeout_s: ClassVar[float] = 15.0
    grace_s: ClassVar[float] = 10.0
    min_rate: ClassVar[float] = 16 * 1024.0

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        limit = type(self).max_bytes
        if scope["type"] != "http" or limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, 413, "too_large", f"the request body is larger than {limit} bytes", limit=limit)
            return
        cls = type(self)
        received, refused, body_done, started = 0, False, False, time.monotonic()
        cut: tuple[int, str, str] | None = None  # the status, code and message the client gets instead

        async def counted() -> Message:
            nonlocal received, cut, body_done
            if cut is not None:
                return {"type": "http.disconnect"}
            if body_done:  # the app listens for a disconnect while it answers: no deadline on that
                return await _received(receive)
            try:
                message: Message = await asyncio.wait_for(_received(receive), cls.idle_timeout_s)
            except TimeoutError:  # stop reading here: the parser sees the client gone
                cut = (408, "slow_upload", f"no bytes of the request body arrived for {cls.idle_timeout_s:g} s")
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                received += len(message.get("body", b""))
                elapsed = time.monotonic() - started
                if received > limit:
                    cut = (413, "too_large", f"the request body is larger than {limit} bytes")
                elif elapsed > cls.grace_s and message.get("more_body") and received / elapsed < cls.min_rate:
                    cut = (408, "slow_upload", f"the request body arrives slower than {cls.min_rate:g} bytes/s")
                if cut is not None:
                    return {"type": "http.disconnect"}
            return message

        async def answer(message: Message) -> None:
            nonlocal refused
            if cut is None:
                await send(message)
            elif not refused:  # whatever the app made of the cut-off body, the client gets the reason
                refused = True
                await _refuse(send, *cut, limit=limit)

        await self.app(scope, counted, answer)


async def _received(receive: Any) -> Message:
    try:
        message: Message = await receive()
    except TaskCancelledError:  # Serve cancelled the request: its client went away
        return {"type": "http.disconnect"}
    return message


async def _refuse(send: Any, status: int, code: str, message: str, *, limit: int) -> None:
    # docgraph's error shape, and docling-serve's ``detail`` beside it: the middleware answers before any route, so
    # a docling client (/v1/convert/file, /v1/convert/source) reads its own field too
    body = json.dumps({"code": code, "message": message, "details": {"limit": limit}, "detail": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
