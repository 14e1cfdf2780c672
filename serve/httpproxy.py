"""What Serve's HTTP proxy (uvicorn) does before any docgraph code sees a request: a deadline on the request
*head*, and framing errors answered with the JSON error body every other error has.

uvicorn times out neither a connection that sends nothing nor a head (request line + headers) that trickles
in a byte at a time, so a few hundred such connections hold the proxy's slots; and it answers malformed
framing (``Content-Length: abc``, both ``Content-Length`` and ``Transfer-Encoding``) with a plain-text 400.
Serve builds the uvicorn ``Config`` itself with ``http="auto"``; its documented hook into the proxy process is
``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH`` (called there before the server starts), so ``install`` —
named by that variable — points uvicorn's ``auto`` protocol at the subclasses below. They change two methods
of uvicorn's own protocol classes and nothing else (ADR 0005).

The deadline (``DOCGRAPH_HEAD_TIMEOUT_S``, default 15 s) runs from the connection's first byte of each
request (or from connecting, for a connection that sends nothing) to the end of its head; past it, the
client gets 408 ``slow_request_head`` (JSON, ``Connection: close``) and the connection is closed. The body
has its own bounds in ``serve/bodylimit.py``.

The same hook bounds what a client sends on a websocket (serve/wsbounds.py: uvicorn's websocket protocol
given a small message limit through its own ``ws_max_size`` setting, and an ASGI middleware with a rate
budget), since Serve's proxy queues every inbound message without limit whatever the handler behind it reads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any, Final

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

log = logging.getLogger("docgraph.serve")

HEAD_TIMEOUT_ENV: Final = "DOCGRAPH_HEAD_TIMEOUT_S"
DEFAULT_HEAD_TIMEOUT_S: Final = 15.0
CALLBACK_ENV: Final = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"
CALLBACK: Final = "serve.httpproxy:install"


def head_timeout_s() -> float:
    raw = os.environ.get(HEAD_TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_HEAD_TIMEOUT_S
    except ValueError:
        log.warning("%s=%r is not a number; using %s s", HEAD_TIMEOUT_ENV, raw, DEFAULT_HEAD_TIMEOUT_S)
        return DEFAULT_HEAD_TIMEOUT_S
    return value if value > 0 else DEFAULT_HEAD_TIMEOUT_S


def error_response(status: int, reason: str, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 response with docgraph's error body, closing the connection."""
    body = json.dumps({"code": code, "message": message, "details": {}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _bad_request(msg: str) -> bytes:
    return error_response(400, "Bad Request", "malformed_request", f"The HTTP request could not be parsed: {msg}")


class _HeadDeadline:
    """Mixin over a uvicorn protocol: one timer per request head."""

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes: bool = False

    # the same in both protocols: a deadline from connecting, none once the connection is gone, and the JSON
    # body for a request the parser refused (uvicorn's own writes text/plain)
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]  # the uvicorn protocol after this mixin
        self._arm_head(got_bytes=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_done()
        super().connection_lost(exc)  # type: ignore[misc]

    def send_400_response(self, msg: str) -> None:
        self._head_done()
        self.transport.write(_bad_request(msg))
        self.transport.close()

    def _arm_head(self, *, got_bytes: bool) -> None:
        self._head_bytes = self._head_bytes or got_bytes
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(head_timeout_s(), self._head_expired)

    def _head_done(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer, self._head_bytes = None, False

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes:  # a request began and its head did not arrive in time
            limit = head_timeout_s()
            self.transport.write(
                error_response(
                    408,
                    "Request Timeout",
                    "slow_request_head",
                    f"The request line and headers did not arrive within {limit:g} s.",
                )
            )
        self.transport.close()


class HeadDeadlineHttpTools(_HeadDeadline, HttpToolsProtocol):
    def data_received(self, data: bytes) -> None:
        cycle: RequestResponseCycle | None = self.cycle  # None before the first request (uvicorn types it not)
        if cycle is None or cycle.response_complete:  # between requests: this is a new head
            self._arm_head(got_bytes=bool(data))
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._head_done()
        super().on_headers_complete()


class HeadDeadlineH11(_HeadDeadline, H11Protocol):
    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm_head(got_bytes=bool(data))
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._head_done()


def install() -> list[Any]:
    """Serve's proxy callback: make uvicorn's ``auto`` protocol the deadline-keeping one (httptools when it
    is installed, as uvicorn's own ``auto`` chooses) and its ``auto`` websocket protocol the bounded one (the
    websockets library's, as uvicorn's ``auto`` chooses); returns the websocket budget's middleware."""
    from starlette.middleware import Middleware
    from uvicorn import config

    from serve.wsbounds import WebSocketBounds, ws_settings

    try:
        import httptools  # noqa: F401
    except ImportError:  # pragma: no cover - httptools is in the locks
        config.HTTP_PROTOCOLS["auto"] = f"{__name__}:HeadDeadlineH11"
    else:
        config.HTTP_PROTOCOLS["auto"] = f"{__name__}:HeadDeadlineHttpTools"
    config.WS_PROTOCOLS["auto"] = "serve.wsbounds:BoundedWebSockets"
    ws = ws_settings()
    log.info(
        "HTTP proxy: request heads must arrive within %s s; websocket messages of at most %d bytes, %g bytes/s",
        head_timeout_s(),
        ws.ws_max_message_bytes,
        ws.ws_inbound_bytes_per_s,
    )
    return [Middleware(WebSocketBounds)]
