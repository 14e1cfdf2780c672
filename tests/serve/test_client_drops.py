"""A client that goes away mid-stream (a job's server-sent events, docling's status websocket) is a normal event:
no ERROR and no traceback in any log, while real errors stay errors.

Before: a websocket client that left while an update was on its way made Serve's proxy log "Request failed due
to unexpected error" with a GeneratorExit traceback, then "Task exception was never retrieved ... async generator
ignored GeneratorExit" (uvicorn raises ClientDisconnected on a send to a gone client; serve/wsbounds.py drops
such a send now). The service tests drop clients through the real proxy and read what the session's log files
gained meanwhile (Serve's logs and the workers' stderr, where an unhandled error lands); docgraph's own INFO
lines have no handler under Ray, so the in-process tests check those with caplog."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from docling.datamodel.service.responses import TaskStatusResponse
from fastapi import APIRouter, FastAPI
from ray.exceptions import TaskCancelledError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket
from uvicorn.protocols.utils import ClientDisconnected
from websockets.sync.client import connect

from docgraph.embedded import EmbeddedService
from docgraph.samples import make_text_pdf
from pipeline.options import ConvertOptions
from serve.args import JobsConfig, SqliteStoreConfig
from serve.bodylimit import BodyLimitMiddleware
from serve.doclingapi.errors import DoclingRoute
from serve.doclingapi.responses import task_status
from serve.doclingapi.statusws import ClientInbox, StatusStream
from serve.errors import install_error_handlers
from serve.jobs.events import job_events
from serve.jobs.models import JobRecord, JobRequest, JobState, JobStatus
from serve.wsbounds import InboundBudget, Message, WebSocketBounds
from tests.conftest import ingress_only_app


def running(job_id: str = "job", done: int = 0) -> JobRecord:
    now = time.time()
    status = JobStatus(id=job_id, state=JobState.RUNNING, created_at=now, updated_at=now, pages_done=done)
    return JobRecord(status=status, request=JobRequest(options=ConvertOptions()))


class FakeStore:
    """A job that runs, a page a call."""

    def __init__(self) -> None:
        self.calls = 0

    async def get(self, job_id: str) -> JobRecord:
        self.calls += 1
        return running(job_id, self.calls)

    async def pages_after(self, job_id: str, seq: int) -> list[tuple[int, bytes]]:
        return []


def no_errors(records: list[logging.LogRecord]) -> None:
    assert [r for r in records if r.levelno >= logging.WARNING or r.exc_info] == []


def test_sse_client_gone_is_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="docgraph")
    answers = iter([False, True])

    async def gone() -> bool:
        return next(answers)

    async def read() -> list[bytes]:
        return [event async for event in job_events(FakeStore(), "j1", gone)]  # type: ignore[arg-type]

    events = asyncio.run(read())
    assert len(events) == 2 and all(e.startswith(b"event: progress") for e in events)
    assert "events of job j1: the client left" in caplog.messages
    no_errors(caplog.records)


@pytest.mark.parametrize("how", ["closed", "cancelled"])
def test_sse_stream_ended_under_it_is_info(caplog: pytest.LogCaptureFixture, how: str) -> None:
    """How Serve ends a stream whose client left: the generator is closed, or its task cancelled."""
    caplog.set_level(logging.INFO, logger="docgraph")

    async def never() -> bool:
        return False

    async def run() -> None:
        stream = job_events(FakeStore(), "j2", never)  # type: ignore[arg-type]
        await anext(stream)
        if how == "closed":
            await stream.aclose()
            return
        task = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.05)  # in its poll sleep
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert any("events of job j2: the stream was closed" in m for m in caplog.messages)
    no_errors(caplog.records)


def test_status_websocket_client_gone_is_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="docgraph")
    store = FakeStore()

    async def status(record: JobRecord) -> TaskStatusResponse:
        return task_status(record.status, None)

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await StatusStream(websocket, "t1", store.get, status).run(running("t1"))

    with TestClient(Starlette(routes=[WebSocketRoute("/ws", endpoint)])) as client:
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_json()["message"] == "connection"
            assert ws.receive_json()["message"] == "update"
            ws.send_text("next")
            assert ws.receive_json()["message"] == "update"  # pushed: the fake job progresses
        deadline = time.monotonic() + 5
        while not any("the client left" in m for m in caplog.messages) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert any(m.startswith("status websocket of task t1: the client left") for m in caplog.messages)
    no_errors(caplog.records)


def test_the_proxy_drops_a_send_to_a_websocket_client_that_left() -> None:
    """uvicorn raises ClientDisconnected on a send to a client that left; the app behind the middleware (Serve's
    proxy) must not see it (it would log an ERROR with a traceback), and its later sends are dropped too."""
    sent: list[Message] = []
    received: list[str] = []

    async def uvicorn_send(message: Message) -> None:
        if sent:
            raise ClientDisconnected
        sent.append(message)

    async def uvicorn_receive() -> Message:
        return {"type": "websocket.disconnect", "code": 1006}

    async def app(scope: Message, receive: Any, send: Any) -> None:
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "update"})  # the client left meanwhile
        await send({"type": "websocket.send", "text": "update"})
        received.append((await receive())["type"])

    async def broken(scope: Message, receive: Any, send: Any) -> None:
        raise RuntimeError("a bug")

    scope = {"type": "websocket", "path": "/ws"}
    asyncio.run(WebSocketBounds(app)(scope, uvicorn_receive, uvicorn_send))
    assert [m["type"] for m in sent] == ["websocket.accept"] and received == ["websocket.disconnect"]
    with pytest.raises(RuntimeError, match="a bug"):  # the app's own errors still raise
        asyncio.run(WebSocketBounds(broken)(scope, uvicorn_receive, uvicorn_send))


@pytest.mark.parametrize("exc", [TaskCancelledError(), ClientDisconnect()], ids=["ray-cancelled", "disconnect"])
def test_a_request_whose_client_left_is_info_and_a_bug_stays_an_error(
    caplog: pytest.LogCaptureFixture, exc: Exception
) -> None:
    """What reaches the error handlers when the client left: Ray's TaskCancelledError (Serve cancels the request,
    and with it the replica's pending receive: the SSE stream's disconnect listener) or Starlette's
    ClientDisconnect (the body stopped). docgraph's routes and docling's answer it without an ERROR."""
    caplog.set_level(logging.INFO, logger="docgraph")
    app = FastAPI()
    install_error_handlers(app, debug=False)
    docling = APIRouter(route_class=DoclingRoute)

    async def left() -> None:
        raise exc

    async def bug() -> None:
        raise ValueError("a bug")

    app.add_api_route("/v1/left", left)
    app.add_api_route("/v1/bug", bug)
    docling.add_api_route("/docling/left", left)
    docling.add_api_route("/docling/bug", bug)
    app.include_router(docling)
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/v1/left", "/docling/left"):
            assert client.get(path).status_code == 499
        no_errors(caplog.records)
        assert sum("ended: the client left" in m for m in caplog.messages) == 2
        for path in ("/v1/bug", "/docling/bug"):
            assert client.get(path).status_code == 500
    bugs = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert len(bugs) == 2


def test_rays_cancelled_receive_is_the_clients_disconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve cancels a request whose client left, and the replica's pending receive raises TaskCancelledError:
    the app (Starlette's disconnect listener under a StreamingResponse) reads http.disconnect instead, so nothing
    is raised to be logged, or re-raised into a cancelled task ("Task exception was never retrieved")."""
    monkeypatch.setattr(BodyLimitMiddleware, "max_bytes", 1000)
    incoming: list[Message | Exception] = [
        {"type": "http.request", "body": b"", "more_body": False},
        TaskCancelledError(),
    ]
    seen: list[str] = []

    async def receive() -> Message:
        item = incoming.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def app(scope: Message, receive: Any, send: Any) -> None:
        seen.append((await receive())["type"])
        seen.append((await receive())["type"])  # listening for a disconnect while it streams

    async def send(message: Message) -> None:
        pass

    asyncio.run(BodyLimitMiddleware(app)({"type": "http", "headers": []}, receive, send))
    assert seen == ["http.request", "http.disconnect"]


def test_the_status_sockets_reader_ends_quietly_when_serve_cancels_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="docgraph")

    class Cancelled:
        async def receive(self) -> Message:
            raise TaskCancelledError()

    inbox = ClientInbox(Cancelled(), InboundBudget(4096, 4096, 65536))  # type: ignore[arg-type]
    asyncio.run(inbox.read())
    assert inbox.left == 1006 and inbox.ended
    no_errors(caplog.records)


# --- through Serve's proxy ---------------------------------------------------------------------------------


def _log_files() -> list[Path]:
    import ray

    node = ray._private.worker.global_worker.node
    assert node is not None  # connected to the session's Ray (the service fixture)
    logs = Path(node.get_session_dir_path()) / "logs"
    return [*logs.glob("serve/*.log"), *logs.glob("worker-*.err")]


def _sizes() -> dict[Path, int]:
    return {p: p.stat().st_size for p in _log_files()}


def _gained(before: dict[Path, int]) -> dict[str, list[str]]:
    out = {}
    for path in _log_files():
        with path.open("rb") as f:
            f.seek(before.get(path, 0))
            lines = f.read().decode(errors="replace").splitlines()
        if lines:
            out[path.name] = lines
    return out


@pytest.fixture(scope="module")
def running_task(service: EmbeddedService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, task id) of a long job running on an ingress of its own."""
    folder = tmp_path_factory.mktemp("drops")
    jobs = JobsConfig(store=SqliteStoreConfig(path=str(folder / "jobs.sqlite3")), max_running=1)
    with ingress_only_app(service, "drops", jobs) as c:
        files = {"files": ("long.pdf", make_text_pdf(2000, paragraphs=1), "application/pdf")}
        task_id = c.post("/v1/convert/file/async", files=files).json()["task_id"]
        try:
            yield str(c.base_url).rstrip("/"), task_id
        finally:
            c.delete(f"/v1/jobs/{task_id}")


@pytest.mark.serve
def test_clients_leaving_mid_stream_log_no_error(running_task: tuple[str, str]) -> None:
    base, task_id = running_task
    before = _sizes()
    ws_url = base.replace("http://", "ws://") + f"/v1/status/ws/{task_id}"
    rng = random.Random(7)

    def leave_ws(abrupt: bool) -> None:
        ws = connect(ws_url, open_timeout=30)
        ws.recv(timeout=30)
        ws.recv(timeout=30)
        ws.send("next")  # an update is on its way when it leaves
        time.sleep(rng.uniform(0, 0.5))
        if abrupt:
            ws.socket.close()  # no close frame
        else:
            ws.close()

    def leave_sse() -> None:
        with httpx.stream("GET", f"{base}/v1/jobs/{task_id}/events", timeout=60) as s:
            for n, _ in enumerate(s.iter_lines()):
                if n > rng.randint(2, 40):
                    break

    threads = [threading.Thread(target=leave_ws, args=(n % 2 == 0,)) for n in range(20)]
    threads += [threading.Thread(target=leave_sse) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert httpx.get(f"{base}/v1/jobs/{task_id}").json()["state"] == "running"  # they all left mid-stream
    time.sleep(8)  # Serve's proxy and replicas write their lines
    gained = _gained(before)
    errors = {
        name: [line for line in lines if "ERROR" in line or "Traceback" in line] for name, lines in gained.items()
    }
    assert {name: lines for name, lines in errors.items() if lines} == {}
    proxy = [line for name, lines in gained.items() if name.startswith("proxy_") for line in lines]
    assert sum(" WS " in line for line in proxy) >= 20 and sum("/events" in line for line in proxy) >= 10, proxy[-20:]
