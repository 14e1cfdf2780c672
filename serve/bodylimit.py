"""A cap on request bodies that holds while the body streams in, before FastAPI parses (and spools) a form.

FastAPI reads a multipart form completely before the endpoint runs, so a size check in the endpoint comes
after the bytes arrived. This ASGI middleware refuses a declared ``Content-Length`` over the cap at once and
counts the bytes of bodies without one (chunked): at the cap it stops reading and answers 413 itself. The cap
comes from the app's ``limits.max_bytes`` (set by the ingress when it starts) plus room for the multipart framing.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

Scope = dict[str, Any]
Message = dict[str, Any]


class BodyLimitMiddleware:
    max_bytes: ClassVar[int | None] = None  # set once per process by the ingress (serve/ingress.py)

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        limit = type(self).max_bytes
        if scope["type"] != "http" or limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        received, exceeded, refused = 0, False, False

        async def counted() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # stop reading here: the parser sees the client gone
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def answer(message: Message) -> None:
            nonlocal refused
            if not exceeded:
                await send(message)
            elif not refused:  # whatever the app made of the cut-off body, the client gets the reason
                refused = True
                await _refuse(send, limit)

        await self.app(scope, counted, answer)


async def _refuse(send: Any, limit: int) -> None:
    body = json.dumps(
        {
            "code": "too_large",
            "message": f"the request body is larger than the limit of {limit} bytes",
            "details": {"limit": limit},
        }
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
