"""docling's status websocket (``/v1/status/ws/{task_id}``) bounds what a client sends, where it would pile up:
Serve's HTTP proxy queues every inbound message of a websocket without limit (serve/wsbounds.py), so these tests
flood a socket through the real proxy and measure the proxy's memory. Also: a socket idle past
``ws_idle_timeout_s`` is closed, one whose client keeps asking is not.

The task followed is queued behind long jobs on an ingress of its own (one job at a time): it stays open, with
no progress."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close
from websockets.sync.client import ClientConnection, connect

from docgraph.embedded import EmbeddedService
from docgraph.samples import make_text_pdf
from serve.args import JobsConfig, SqliteStoreConfig
from tests.conftest import ingress_only_app

pytestmark = pytest.mark.serve
MIB = 1024 * 1024
IDLE_S = 3.0
BLOCKERS = 10  # jobs of 2000 text pages ahead of the task followed (~7 s each here, one at a time)


@dataclass
class QueuedTask:
    ws_url: str
    client: httpx.Client


@pytest.fixture(scope="module")
def queued(service: EmbeddedService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueuedTask]:
    folder = tmp_path_factory.mktemp("docling-ws")
    jobs = JobsConfig(store=SqliteStoreConfig(path=str(folder / "jobs.sqlite3")), max_running=1)
    env = {"DOCGRAPH_WS_IDLE_TIMEOUT_S": str(IDLE_S)}
    with ingress_only_app(service, "doclingws", jobs, env=env) as c:
        pdf = make_text_pdf(2000, paragraphs=1)
        files = {"files": ("long.pdf", pdf, "application/pdf")}
        ids = [c.post("/v1/convert/file/async", files=files).json()["task_id"] for _ in range(BLOCKERS + 1)]
        base = str(c.base_url).rstrip("/").replace("http://", "ws://")
        try:  # the last task waits for the long jobs before it: no progress while the tests run
            yield QueuedTask(f"{base}/v1/status/ws/{ids[-1]}", c)
        finally:
            for task_id in ids:
                c.delete(f"/v1/jobs/{task_id}")


def opened(url: str) -> ClientConnection:
    ws = connect(url, open_timeout=30, close_timeout=5, max_size=None)
    assert '"connection"' in str(ws.recv(timeout=30))
    update = str(ws.recv(timeout=30))
    assert '"update"' in update and '"pending"' in update, update
    return ws


def proxy_rss_mib() -> float:
    procs = [p for p in psutil.process_iter(["cmdline"]) if "ray::ProxyActor" in " ".join(p.info["cmdline"] or [])]
    assert len(procs) == 1, procs
    return float(procs[0].memory_info().rss) / MIB


def flood(url: str, total: int, frame: str) -> tuple[int, Close | None]:
    """Send ``frame`` until ``total`` bytes went or the server closed: (bytes sent, the server's close)."""
    sent = 0
    ws = opened(url)
    try:
        while sent < total:
            ws.send(frame)
            sent += len(frame)
        ws.recv(timeout=10)  # the close, if it comes late
    except (ConnectionClosed, TimeoutError):
        pass
    finally:
        ws.close()
    return sent, ws.protocol.close_rcvd


def test_a_message_over_the_limit_is_refused_from_its_header(queued: QueuedTask) -> None:
    ws = opened(queued.ws_url)
    ws.send(b"x" * (1024 * 1024))
    with pytest.raises(ConnectionClosed):
        while True:
            ws.recv(timeout=10)
    assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1009, ws.protocol.close_rcvd


def test_a_flood_is_cut_off_and_the_proxy_does_not_grow(queued: QueuedTask) -> None:
    before = proxy_rss_mib()
    sent, close = flood(queued.ws_url, 300 * MIB, "x" * 1024)
    time.sleep(2)
    grown = proxy_rss_mib() - before
    print(f"flood: {sent / MIB:.1f} MiB sent before the close {close}; proxy RSS {before:.0f} MiB, +{grown:.1f} MiB")
    assert close is not None and close.code == 1008 and "bytes/s" in close.reason, close
    assert sent < 32 * MIB  # the client's socket buffers, then the close (before: all 300 MiB went)
    assert grown < 48, grown  # before: +475 MiB for the 300 MiB, +417 MiB still 30 s later
    # the bound is per socket: a polite client still gets its updates
    ws = opened(queued.ws_url)
    ws.send("next")
    assert '"update"' in str(ws.recv(timeout=10))
    ws.close()


def test_an_idle_socket_is_closed_and_an_asking_one_is_not(queued: QueuedTask) -> None:
    idle = opened(queued.ws_url)
    started = time.monotonic()
    with pytest.raises(ConnectionClosed):
        idle.recv(timeout=IDLE_S + 10)
    assert (
        idle.protocol.close_rcvd is not None
        and idle.protocol.close_rcvd.code == 1000
        and "idle" in idle.protocol.close_rcvd.reason
    )
    assert IDLE_S - 0.5 < time.monotonic() - started < IDLE_S + 5
    asking = opened(queued.ws_url)
    updates, until = 0, time.monotonic() + 2 * IDLE_S + 1
    while time.monotonic() < until:
        asking.send(b"next")  # binary frames ask too
        with contextlib.suppress(TimeoutError):
            updates += '"update"' in str(asking.recv(timeout=1))
    assert asking.protocol.close_rcvd is None and updates >= 1  # at least one answer (5 s at most after asking)
    asking.close()


def test_the_queued_task_is_still_pending(queued: QueuedTask) -> None:
    """The tests above followed a task that stayed open (had it ended, each socket would close at once)."""
    task_id = Path(queued.ws_url).name
    assert queued.client.get(f"/v1/status/poll/{task_id}").json()["task_status"] == "pending"
