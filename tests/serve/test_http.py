"""The real Serve application over HTTP on 127.0.0.1: readiness, formats, errors, concurrency."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from docling_core.types.doc.document import DoclingDocument

from docgraph.samples import make_text_pdf, make_turned_scan_pdf
from pipeline.graph import DocumentGraph, DocumentStatus, PageKind
from tests.conftest import TEST_LIMITS
from tests.invariants import assert_graph_invariants

pytestmark = pytest.mark.serve


def post(client: httpx.Client, data: bytes, name: str = "doc.pdf", **params: str) -> httpx.Response:
    return client.post("/v1/convert", params=params, files={"file": (name, data, "application/pdf")})


def test_ready_only_after_every_model_ran(client: httpx.Client) -> None:
    body = client.get("/readyz").json()
    assert body["ready"] is True
    names = [c["name"] for c in body["components"]]
    assert names[0] == "ingress" and any(n.startswith("yolo:") for n in names) and any("rapidocr" in n for n in names)
    assert all(c["ready"] for c in body["components"])
    assert client.get("/healthz").json() == {"status": "ok"}


def test_convert_returns_the_graph(client: httpx.Client, sample_pdf: bytes) -> None:
    r = post(client, sample_pdf, "sample.pdf")
    assert r.status_code == 200 and r.headers["x-docgraph-status"] == "complete"
    graph = DocumentGraph.model_validate_json(r.content)
    assert_graph_invariants(graph)
    assert graph.document.filename == "sample.pdf" and graph.document.page_count == 3
    assert [p.kind for p in graph.pages] == [PageKind.DIGITAL, PageKind.DIGITAL, PageKind.SCANNED]


def test_markdown_html_and_zip_formats(client: httpx.Client, sample_pdf: bytes) -> None:
    md = post(client, sample_pdf, format="markdown", pages="1-2")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.count("\n---\n") == 1 and "## 1 Introduction" in md.text
    assert "| Route | Pages/s | GPU |\n|---|---|---|" in md.text  # the sample's table, as a GFM table
    html = post(client, sample_pdf, format="html", pages="1")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "<h2>1 Introduction</h2>" in html.text and "<th>Route</th>" in html.text
    bundle = post(client, sample_pdf, format="zip", pages="2")
    names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    assert names == [
        "document.json",
        "document.md",
        "document.html",
        "document.docling.json",
        "document.chunks.json",
        "pages/page-0002.png",
        "figures/page-0002-1.png",
    ]
    docling = post(client, sample_pdf, format="docling", pages="1")
    assert docling.status_code == 200 and docling.headers["content-type"].startswith("application/json")
    assert DoclingDocument.model_validate_json(docling.content).tables  # docling-core reads it back


def test_bad_requests_get_problem_bodies(client: httpx.Client, sample_pdf: bytes) -> None:
    cases = [
        (b"", {}, 400, "empty_file"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, {}, 400, "corrupt_image"),  # an image, but a broken one
        (b"GIF89a" + b"\x00" * 100, {}, 415, "not_a_pdf"),
        (sample_pdf, {"pages": "9"}, 400, "invalid_options"),
        (sample_pdf, {"pages": "x"}, 400, "invalid_options"),
        (sample_pdf, {"ocr": "sometimes"}, 400, "invalid_request"),
        (b"%PDF-1.4\n" + b"x" * (TEST_LIMITS.max_bytes + 10), {}, 413, "too_large"),
    ]
    for data, params, status, code in cases:
        r = post(client, data, **params)
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
        assert r.json()["message"]
    r = client.post("/v1/convert")
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"


def test_an_oversized_body_is_refused_while_it_streams(client: httpx.Client) -> None:
    """Chunked (no Content-Length): the ingress stops reading at the cap instead of spooling it all first."""
    boundary = "docgraphtest"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
    ).encode()
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield head
        chunk = b"x" * (1 << 20)
        for _ in range(TEST_LIMITS.max_bytes // len(chunk) + 64):  # 64 MiB past the cap, unless stopped
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    for route in ("/v1/convert", "/v1/jobs", "/v1/convert/file"):  # the last: docling-serve's, its `detail` too
        sent = 0
        r = client.post(route, content=body(), headers=headers)
        assert r.status_code == 413 and r.json()["code"] == "too_large", r.text[:300]
        assert "larger than" in r.json()["detail"] and "larger than" in r.json()["message"]
    assert client.get("/readyz").status_code == 200


def test_concurrent_requests_all_complete(client: httpx.Client) -> None:
    docs = [make_text_pdf(n) for n in (1, 2, 3, 4, 5, 6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda d: post(client, d), docs))
    assert [r.status_code for r in responses] == [200] * 6
    graphs = [DocumentGraph.model_validate_json(r.content) for r in responses]
    assert [len(g.pages) for g in graphs] == [1, 2, 3, 4, 5, 6]
    assert all(g.status is DocumentStatus.COMPLETE for g in graphs)


def test_openapi_and_schema_are_published(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/convert" in spec["paths"] and "/readyz" in spec["paths"]
    assert client.get("/v1/schema").json()["title"] == "DocumentGraph"
    models = client.get("/v1/models").json()
    assert {m["role"] for m in models} == {"layout", "ocr"} and all(m["ready"] for m in models)
    layout = next(m for m in models if m["role"] == "layout")
    assert layout["licence"].startswith("AGPL-3.0")  # what the shipped weights' metadata says (issue 23)


def test_a_sideways_scan_is_turned_upright_by_the_ocr_deployment(client: httpx.Client) -> None:
    """The orientation classifier lives in the OCR deployment (the CPU default's); the ingress turns the page."""
    r = client.post("/v1/convert", files={"file": ("turned.pdf", make_turned_scan_pdf(90), "application/pdf")})
    assert r.status_code == 200, r.text
    graph = DocumentGraph.model_validate_json(r.content)
    page = graph.pages[0]
    assert page.orientation is not None and page.orientation.applied and page.orientation.angle == 90
    assert any("Sample Report on Document Graphs" in b.text for b in graph.blocks)
