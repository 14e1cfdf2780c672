"""A request id follows a document through every deployment: the client's ``X-Request-ID`` (or Serve's own)
comes back on the response and is on the log lines of the ingress and of each model replica that served it."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from docgraph.embedded import EmbeddedService

pytestmark = pytest.mark.serve


def _serve_logs() -> list[Path]:
    import ray

    node = ray._private.worker.global_worker.node
    assert node is not None  # this process is connected to the session's Ray (the service fixture)
    session = Path(node.get_session_dir_path())
    return list((session / "logs" / "serve").glob("replica_*.log"))


def test_request_id_is_echoed_and_logged_by_every_deployment(
    client: httpx.Client, service: EmbeddedService, sample_pdf: bytes
) -> None:
    request_id = f"dg-{uuid.uuid4().hex}"
    r = client.post(
        "/v1/convert",
        files={"file": ("s.pdf", sample_pdf, "application/pdf")},
        headers={"X-Request-ID": request_id},
    )
    assert r.status_code == 200
    assert r.headers["x-request-id"] == request_id
    deadline, seen = time.monotonic() + 30, set()
    while time.monotonic() < deadline:
        seen = {p.name.split("_")[2] for p in _serve_logs() if request_id in p.read_text(errors="replace")}
        if {"DocumentIngress", "LayoutDeployment", "OcrDeployment"} <= seen:
            break
        time.sleep(1)
    assert {"DocumentIngress", "LayoutDeployment", "OcrDeployment"} <= seen, seen
