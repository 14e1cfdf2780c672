"""Prometheus metrics at the Ray metrics export port: docgraph's own series appear after real traffic."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from docgraph.embedded import EmbeddedService

pytestmark = pytest.mark.serve

EXPECTED = [
    "ray_docgraph_pages_total{",
    "ray_docgraph_stage_seconds_bucket{",
    "ray_docgraph_documents_total{",
    "ray_docgraph_documents_in_flight{",
    "ray_docgraph_model_seconds_bucket{",
    "ray_serve_deployment_request_counter",  # Serve's own series are there too
]


def _metrics_text() -> str:
    import ray

    port = next(n["MetricsExportPort"] for n in ray.nodes() if n["Alive"])
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text


def _route(tags: str) -> str:
    """The ``route`` label among a series' labels."""
    found = re.search(r'route="([^"]+)"', tags)
    assert found is not None, tags
    return found.group(1)


def test_page_route_status_and_stage_metrics_are_exported(
    client: httpx.Client, service: EmbeddedService, sample_pdf: bytes
) -> None:
    r = client.post("/v1/convert", files={"file": ("s.pdf", sample_pdf, "application/pdf")})
    assert r.status_code == 200
    deadline, text = time.monotonic() + 60, ""
    while time.monotonic() < deadline:
        text = _metrics_text()
        if all(series in text for series in EXPECTED) and 'route="ocr"' in text:
            break
        time.sleep(2)
    missing = [series for series in EXPECTED if series not in text]
    assert not missing, missing
    pages = re.findall(r"^ray_docgraph_pages_total\{([^}]*)\} (\S+)", text, re.MULTILINE)
    routes = {_route(tags) for tags, _ in pages}
    assert {"layout", "ocr"} <= routes  # the sample has digital pages (layout) and a scanned one (OCR)
    assert all(float(value) >= 1 for _, value in pages)
