"""Bounds on what a client sends over a websocket, kept where the bytes arrive: Serve's HTTP proxy.

Serve's proxy does not leave a websocket's inbound messages in uvicorn (which stops reading the socket until
the app takes each one): a task of the proxy (``proxy_asgi_receive``) takes every message as it arrives and
puts it on an unbounded per-request queue, which the replica drains by actor calls into another unbounded queue.
So whatever the handler reads, a client that sends without pause grows the proxy by what is queued (measured
with the docling status socket: +606 MiB of the proxy's RSS, kept, for 300 MiB sent). Hence, in the proxy:

- ``BoundedWebSockets``: uvicorn's own websocket protocol with ``ws_max_message_bytes`` as its message limit, so
  a larger frame is refused from its header, before its payload is read (close 1009, by the websockets library);
- ``WebSocketBounds``: an ASGI middleware (``serve.httpproxy:install`` returns it) that charges every message
  to an ``InboundBudget`` (``ws_inbound_bytes_per_s``, ``ws_inbound_burst_bytes``; 1008 past it, 1009 for a
  message over the size where uvicorn's limit did not apply), closes the socket itself and tells the app
  behind it (Serve's proxy, hence the replica) that the client left. What the app still sends on a socket
  closed here is dropped, as is what it sends after the client left: uvicorn raises ``ClientDisconnected``
  there, which Serve's proxy logs as an ERROR with a traceback ("Request failed due to unexpected error",
  then "async generator ignored GeneratorExit"), while a client going away is a normal event.

The docling status socket's handler (serve/doclingapi/statusws.py) charges what reaches it to the same budget.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

from serve.settings import Settings

log = logging.getLogger("docgraph.serve")

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
MESSAGE_OVERHEAD = 64  # bytes charged per message beyond its payload: an empty message is not free
MESSAGE_TOO_BIG = 1009
POLICY_VIOLATION = 1008


class Refusal(NamedTuple):
    """Why a socket is closed: its close code and reason (at most 123 bytes, the protocol's limit)."""

    code: int
    reason: str


@lru_cache(maxsize=1)
def ws_settings() -> Settings:
    return Settings()


def message_size(message: Message) -> int:
    """Bytes of a ``websocket.receive`` message's payload (text as UTF-8)."""
    data = message.get("bytes")
    if data is not None:
        return len(data)
    text = message.get("text") or ""
    return len(text) if text.isascii() else len(text.encode())


@dataclass
class InboundBudget:
    """A per-message limit and a token bucket in bytes: ``burst_bytes`` at once, refilled at ``bytes_per_s``."""

    max_message_bytes: int
    bytes_per_s: float
    burst_bytes: int
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _at: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens, self._at = float(self.burst_bytes), self.clock()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> InboundBudget:
        s = settings or ws_settings()
        return cls(s.ws_max_message_bytes, s.ws_inbound_bytes_per_s, s.ws_inbound_burst_bytes)

    def admit(self, size: int) -> Refusal | None:
        """Charge a message of ``size`` bytes; a ``Refusal`` when it is over the limit or the budget."""
        if size > self.max_message_bytes:
            return Refusal(MESSAGE_TOO_BIG, f"message of {size} bytes: at most {self.max_message_bytes}")
        now = self.clock()
        self._tokens = min(float(self.burst_bytes), self._tokens + (now - self._at) * self.bytes_per_s)
        self._at = now
        cost = size + MESSAGE_OVERHEAD
        if cost > self._tokens:
            return Refusal(POLICY_VIOLATION, f"sending faster than {self.bytes_per_s:g} bytes/s")
        self._tokens -= cost
        return None


class WebSocketBounds:
    """ASGI middleware of Serve's HTTP proxy: every inbound websocket message charged to an ``InboundBudget``."""

    def __init__(self, app: Callable[[Message, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        socket = _BoundedSocket(receive, send, InboundBudget.from_settings(), str(scope.get("path", "")))
        await self.app(scope, socket.receive, socket.send)


class _BoundedSocket:
    def __init__(self, receive: Receive, send: Send, budget: InboundBudget, path: str) -> None:
        self._receive, self._send, self._budget, self._path = receive, send, budget, path
        self.refused: Refusal | None = None
        self.gone = False

    async def receive(self) -> Message:
        if self.refused is not None:
            return _disconnect(self.refused)
        message = await self._receive()
        if message["type"] != "websocket.receive":
            return message
        refused = self._budget.admit(message_size(message))
        if refused is None:
            return message
        self.refused = refused
        log.info("websocket %s closed (%d): %s", self._path, refused.code, refused.reason)
        with contextlib.suppress(OSError, RuntimeError):  # gone, or closed already
            await self._send({"type": "websocket.close", "code": refused.code, "reason": refused.reason})
        return _disconnect(refused)

    async def send(self, message: Message) -> None:
        if self.refused is not None or self.gone:
            return  # closed here, or the client left: the app has not heard yet
        try:
            await self._send(message)
        except OSError:  # uvicorn's ClientDisconnected: the client left while the app was sending
            self.gone = True
            log.debug("websocket %s: the client left; %s dropped", self._path, message.get("type"))
        except RuntimeError:
            if self.refused is None:
                raise  # a send racing the close above is dropped; anything else is the app's error


def _disconnect(refused: Refusal) -> Message:
    return {"type": "websocket.disconnect", "code": refused.code, "reason": refused.reason}


class BoundedWebSockets(WebSocketsSansIOProtocol):
    """uvicorn's websockets protocol (what its ``auto`` chooses) with ``ws_max_message_bytes`` as the message
    limit: Serve builds uvicorn's ``Config`` with the default 16 MiB, so each connection gets a copy with ours."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: Any = None,
    ) -> None:
        limit = ws_settings().ws_max_message_bytes
        if config.ws_max_size > limit:
            config = copy.copy(config)
            config.ws_max_size = limit
        super().__init__(config, server_state, app_state, _loop)
