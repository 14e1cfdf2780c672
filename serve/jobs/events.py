"""Server-sent events of one job: its finished pages as they come, progress counts, then the final status."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable

from serve.jobs.store import JobStore

log = logging.getLogger("docgraph.serve")
POLL_S = 0.25


def sse(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


async def job_events(
    store: JobStore, job_id: str, client_gone: Callable[[], Awaitable[bool]]
) -> AsyncGenerator[bytes, None]:
    """``page`` for each finished page (replayed from the start), ``progress`` when the counts change, ``done``
    with the final status; ``error`` if the job disappears (expired). Ends when the client goes: a normal event,
    logged at INFO (as is the stream being cancelled or closed under it, which is how Serve ends it)."""
    try:
        async with contextlib.aclosing(_events(store, job_id, client_gone)) as events:
            async for event in events:
                yield event
    except (asyncio.CancelledError, GeneratorExit):
        log.info("events of job %s: the stream was closed before the job ended (the client left)", job_id)
        raise


async def _events(
    store: JobStore, job_id: str, client_gone: Callable[[], Awaitable[bool]]
) -> AsyncGenerator[bytes, None]:
    seq, last = 0, ""
    while True:
        record = await store.get(job_id)
        if record is None:
            yield sse("error", json.dumps({"code": "job_not_found", "message": "the job expired or was deleted"}))
            return
        for page_seq, body in await store.pages_after(job_id, seq):
            seq = page_seq
            yield sse("page", body.decode())
        s = record.status
        progress = json.dumps(
            {
                "state": s.state.value,
                "pages_total": s.pages_total,
                "pages_done": s.pages_done,
                "pages_failed": s.pages_failed,
                "attempts": s.attempts,
            }
        )
        if progress != last:
            last = progress
            yield sse("progress", progress)
        if s.state.final:
            yield sse("done", s.model_dump_json())
            return
        if await client_gone():
            log.info("events of job %s: the client left", job_id)
            return
        await asyncio.sleep(POLL_S)
