"""One document never hurts another, on the real service: a heavy hostile upload beside normal ones.

The heavy document is 6 pages that each draw 25,000 images (over the primitive cap: ~1 s of PyMuPDF a page).
Before the worker pool, such pages ran on the ingress's one PyMuPDF thread, normal requests sent beside them
got 500 step_timeout, and /readyz failed its PyMuPDF self-test while they ran.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from docgraph.embedded import EmbeddedService
from docgraph.samples import make_many_draws_pdf, make_text_pdf

pytestmark = [pytest.mark.faults, pytest.mark.serve]


def convert(client: httpx.Client, data: bytes, name: str) -> httpx.Response:
    return client.post(
        "/v1/convert", params={"format": "json"}, files={"file": (name, data, "application/pdf")}, timeout=300
    )


def test_a_heavy_document_beside_normal_ones(service: EmbeddedService, client: httpx.Client) -> None:
    heavy = make_many_draws_pdf(25_000, pages=6)
    normal = [make_text_pdf(2) for _ in range(3)]
    readiness: list[int] = []
    stop = threading.Event()

    def watch_readiness() -> None:
        while not stop.is_set():
            readiness.append(client.get("/readyz", timeout=30).status_code)
            time.sleep(0.25)

    with ThreadPoolExecutor(6) as pool:
        watcher = pool.submit(watch_readiness)
        heavy_future = pool.submit(convert, client, heavy, "heavy.pdf")
        time.sleep(0.5)  # the heavy pages are in the workers' queues first
        normal_responses = list(pool.map(lambda d: convert(client, d, "normal.pdf"), normal))
        heavy_response = heavy_future.result()
        stop.set()
        watcher.result()

    for response in normal_responses:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "complete"
    assert heavy_response.status_code == 200, heavy_response.text
    graph = heavy_response.json()
    assert graph["status"] == "partial"  # over the primitive cap, and says so on each page
    assert {p["error"]["code"] for p in graph["pages"]} == {"page_too_complex"}
    assert readiness and set(readiness) == {200}, readiness  # a slow document is not a sick replica
    body = client.get("/readyz").json()
    assert any("pdf workers" in c["detail"] for c in body["components"]), body


def _slow_upload(url: str, *, trickle: bool) -> tuple[bytes, float]:
    """Send a request head declaring a 100 kB body, then 1 byte every 0.5 s (``trickle``) or nothing; return
    what the server answered and when (s), or what it had said when the socket closed."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/convert HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 100000\r\n\r\n--b\r\n"
        )
        sock.settimeout(0.5)
        answer = b""
        while time.monotonic() - started < 30:
            try:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
                if b"\r\n\r\n" in answer and b"}" in answer:
                    break
            except TimeoutError:
                if trickle:
                    sock.sendall(b"x")
        return answer, time.monotonic() - started


@pytest.mark.parametrize("trickle", [True, False], ids=["trickled", "stalled"])
def test_slow_uploads_are_cut_off_and_others_go_on(
    service: EmbeddedService, client: httpx.Client, trickle: bool
) -> None:
    with ThreadPoolExecutor(4) as pool:
        slow = [pool.submit(_slow_upload, service.url, trickle=trickle) for _ in range(3)]
        normal = convert(client, make_text_pdf(1), "normal.pdf")  # served while the slow ones hang on
        answers = [f.result() for f in slow]
    assert normal.status_code == 200
    for answer, seconds in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), answer[:300]
        assert json.loads(body)["code"] == "slow_upload"
        assert seconds < 20  # test limits: 3 s without bytes, or under the minimum rate after a 2 s grace
