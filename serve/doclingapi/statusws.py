"""docling-serve's status websocket for one task: a ``connection`` message, then ``update`` messages until the task
ended, then a close.

An update goes out when the task's progress changed (as docling-serve's notifier pushes them), and at the latest
``STATUS_UPDATE_EVERY_S`` after the client asked for one (any message it sends asks: docling-client sends
``next`` after each update). What the client sends is read as it arrives and discarded (``ClientInbox``),
within the socket's inbound budget (serve/wsbounds.py: past it the socket is closed with 1009 or 1008; Serve's
proxy holds the same bound before the bytes get here). A socket with nothing from the client and no progress to
send for ``ws_idle_timeout_s`` is closed (1000, ``idle``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from docling.datamodel.service.responses import MessageKind, TaskStatusResponse, WebsocketMessage
from fastapi import HTTPException, WebSocket
from ray.exceptions import TaskCancelledError
from starlette.websockets import WebSocketDisconnect

from serve.jobs.models import JobRecord
from serve.wsbounds import InboundBudget, Refusal, message_size, ws_settings

log = logging.getLogger("docgraph.serve")
STATUS_UPDATE_EVERY_S = 5.0  # an update answers a client's message once the progress changed, or after this long
POLL_S = 0.25  # how often the store is read while waiting


def progress_key(record: JobRecord) -> tuple[str, int, int]:
    """What a status update reports: an update is sent when it changed (or every few seconds)."""
    return record.status.state.value, record.status.pages_done, record.status.pages_failed


class ClientInbox:
    """The client's side of a status socket, read as it arrives: each message asks for the next update and is
    discarded; the first one over the budget ends the reading (``refused``), as does the client leaving."""

    def __init__(self, websocket: WebSocket, budget: InboundBudget) -> None:
        self._ws, self._budget = websocket, budget
        self.asked = False
        self.refused: Refusal | None = None
        self.left: int | None = None  # the close code, once the client left
        self.heard_at = time.monotonic()
        self.changed = asyncio.Event()

    @property
    def ended(self) -> bool:
        return self.refused is not None or self.left is not None

    async def read(self) -> None:
        try:
            while True:
                message = await self._ws.receive()
                if message["type"] == "websocket.disconnect":
                    self.left = int(message.get("code") or 1005)
                    return
                self.refused = self._budget.admit(message_size(message))
                if self.refused is not None:
                    return
                self.asked, self.heard_at = True, time.monotonic()
                self.changed.set()
        except (WebSocketDisconnect, RuntimeError, TaskCancelledError):  # closed under the reader; Serve cancelled
            self.left = self.left or 1006
        finally:
            self.changed.set()


class StatusStream:
    """One accepted status socket of one existing task."""

    def __init__(
        self,
        websocket: WebSocket,
        task_id: str,
        record: Callable[[str], Awaitable[JobRecord]],
        status: Callable[[JobRecord], Awaitable[TaskStatusResponse]],
    ) -> None:
        self._ws, self._task_id, self._record, self._status = websocket, task_id, record, status
        self.idle_timeout_s = ws_settings().ws_idle_timeout_s

    async def run(self, first: JobRecord) -> None:
        inbox = ClientInbox(self._ws, InboundBudget.from_settings())
        reader: asyncio.Task[None] | None = None
        try:
            await self._send(MessageKind.CONNECTION, first)
            reader = asyncio.create_task(inbox.read())
            record: JobRecord | None = await self._record(self._task_id)
            while record is not None:
                await self._send(MessageKind.UPDATE, record)
                if record.status.state.final:
                    await self._ws.close()
                    return
                record = await self._next(inbox, progress_key(record))
            if inbox.refused is not None:
                log.info("status websocket of task %s closed (%d): %s", self._task_id, *inbox.refused)
                await self._ws.close(code=inbox.refused.code, reason=inbox.refused.reason)
            elif inbox.left is not None:
                log.info("status websocket of task %s: the client left (%d)", self._task_id, inbox.left)
            else:
                log.info("status websocket of task %s closed: idle %g s", self._task_id, self.idle_timeout_s)
                await self._ws.close(code=1000, reason=f"idle for {self.idle_timeout_s:g} s")
        except (WebSocketDisconnect, RuntimeError):  # gone, or closed: not an error
            log.info("status websocket of task %s: the client left", self._task_id)
        except HTTPException:  # the task expired while streaming
            with contextlib.suppress(RuntimeError):
                await self._ws.close()
        finally:
            if reader is not None:
                reader.cancel()
                (ended,) = await asyncio.gather(reader, return_exceptions=True)  # retrieved here, not left to GC
                if isinstance(ended, Exception):
                    log.error("status websocket of task %s: reading the client failed", self._task_id, exc_info=ended)

    async def _next(self, inbox: ClientInbox, last: tuple[str, int, int]) -> JobRecord | None:
        """The record to send next; None once the socket is to close (the client left or broke the budget, or
        neither asked nor was sent anything for ``idle_timeout_s``)."""
        since, asked_at = time.monotonic(), None
        while not inbox.ended:
            if inbox.asked:
                inbox.asked = False
                asked_at = asked_at if asked_at is not None else time.monotonic()
            now = time.monotonic()
            record = await self._record(self._task_id)
            if record.status.state.final or progress_key(record) != last:
                return record
            if asked_at is not None and now - asked_at >= STATUS_UPDATE_EVERY_S:
                return record
            if asked_at is None and now - max(since, inbox.heard_at) >= self.idle_timeout_s:
                return None
            inbox.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(inbox.changed.wait(), POLL_S)
        return None

    async def _send(self, kind: MessageKind, record: JobRecord) -> None:
        status = await self._status(record)
        await self._ws.send_text(WebsocketMessage(message=kind, task=status).model_dump_json())
