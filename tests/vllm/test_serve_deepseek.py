"""DeepSeek-OCR in a vLLM engine inside the real OcrDeployment, reached over HTTP through the ingress.

A second application ("deepseek", at /deepseek) next to the session's default one, on the same local Ray:
layout (YOLO) + DeepSeek-OCR on the tiny checkpoint. One engine for the whole module (~4 GB, ~30 s to load).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from docgraph.embedded import EmbeddedService, wait_ready
from pipeline.graph import DocumentGraph, PageStatus, Source
from serve.args import AppArgs
from tests.conftest import TEST_LIMITS
from tests.vllm.conftest import tiny_engine_config

pytestmark = [pytest.mark.vllm, pytest.mark.serve]

PREFIX = "/deepseek"


@pytest.fixture(scope="module")
def deepseek_url(service: EmbeddedService, tiny_checkpoint: Path) -> Iterator[str]:
    from ray import serve

    from serve.app import build_app

    args = AppArgs(ocr=tiny_engine_config(tiny_checkpoint), limits=TEST_LIMITS)
    serve.run(build_app(args), name="deepseek", route_prefix=PREFIX, blocking=False)
    url = service.url + PREFIX
    try:
        wait_ready(url, timeout_s=420)
        yield url
    finally:
        serve.delete("deepseek")  # frees the engine's memory for the next module


def test_ready_means_the_engine_generated(deepseek_url: str) -> None:
    ready = httpx.get(f"{deepseek_url}/readyz", timeout=30).json()
    ocr = next(c for c in ready["components"] if c["name"].startswith("deepseek-ocr@vllm"))
    assert ocr["ready"] is True and ocr["detail"] == "loaded and warmed up"


def test_scanned_page_goes_through_the_engine_and_the_cut_off_is_reported(deepseek_url: str, sample_pdf: bytes) -> None:
    r = httpx.post(
        f"{deepseek_url}/v1/convert",
        params={"pages": "3", "deepseek_mode": "tiny"},
        files={"file": ("sample.pdf", sample_pdf, "application/pdf")},
        timeout=600,
    )
    assert r.status_code == 200, r.text
    graph = DocumentGraph.model_validate_json(r.content)
    page = graph.pages[0]
    assert page.kind == "scanned" and "ocr" in page.route and "layout" in page.route
    # dummy weights never emit EOS: every generation stops at max_tokens, is retried once in the next mode
    # (tiny → small, which only works because the mode plugin fixed the placeholder count), and the page is
    # labelled partial with the reason, never passed off as complete
    assert page.status is PageStatus.PARTIAL and page.error is not None and page.error.code == "ocr_truncated"
    assert "2 attempt(s) (last mode: small)" in page.error.message
    assert graph.status == "partial" and r.headers["X-Docgraph-Status"] == "partial"
    assert any("token limit" in w.message for w in graph.warnings)
    ocr_models = {p.model for b in graph.blocks for p in b.prov if p.source is Source.OCR}
    assert any(m and m.startswith("deepseek-ocr@vllm") for m in ocr_models)
    assert page.timings.ocr_s > 0


def test_concurrent_pages_share_the_engine(deepseek_url: str, sample_pdf: bytes) -> None:
    """Two requests at once: both answered by the one engine (batched), neither lost."""
    import concurrent.futures

    def one() -> httpx.Response:
        return httpx.post(
            f"{deepseek_url}/v1/convert",
            params={"pages": "3", "deepseek_mode": "tiny", "layout": "false"},
            files={"file": ("sample.pdf", sample_pdf, "application/pdf")},
            timeout=600,
        )

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda _: one(), range(2)))
    assert [r.status_code for r in responses] == [200, 200]
    for r in responses:
        page = DocumentGraph.model_validate_json(r.content).pages[0]
        assert page.error is not None and page.error.code == "ocr_truncated"
