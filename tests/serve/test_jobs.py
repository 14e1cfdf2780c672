"""The async jobs API on the real Serve application: lifecycle, progress, results, events, cancel, bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from docgraph.embedded import EmbeddedService
from docgraph.samples import make_text_pdf
from pipeline.export.chunks import Chunks
from pipeline.graph import DocumentGraph
from serve.args import JobsConfig
from tests.invariants import assert_graph_invariants
from tests.jobclient import submit, wait_final

pytestmark = pytest.mark.serve
SYNC_MAX = JobsConfig().sync_max_pages


def test_job_lifecycle_with_per_page_steps(client: httpx.Client) -> None:
    r = submit(client, make_text_pdf(6), "six.pdf")
    assert r.status_code == 202, r.text
    body = r.json()
    assert r.headers["location"] == body["status_url"] == f"/v1/jobs/{body['id']}"
    assert len(body["id"]) >= 32 and body["state"] == "queued"
    status = wait_final(client, body["id"])
    assert status["state"] == "succeeded" and status["attempts"] == 1, status
    assert (status["pages_total"], status["pages_done"], status["pages_failed"]) == (6, 6, 0)
    assert status["filename"] == "six.pdf" and status["expires_at"] > status["finished_at"]
    for page in status["pages"]:
        assert page["state"] == "ok" and page["timings"]["layout_s"] > 0
        assert list(page["steps"]) == ["text", "render", "layout", "merge"]
        assert set(page["steps"].values()) == {"done"}
    r = client.get(body["result_url"])
    assert r.status_code == 200 and r.headers["x-docgraph-status"] == "succeeded"
    graph = DocumentGraph.model_validate_json(r.content)
    assert_graph_invariants(graph)
    assert len(graph.pages) == 6 and graph.document.filename == "six.pdf"
    md = client.get(body["result_url"], params={"format": "markdown"})
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown") and "Section" in md.text


def test_a_result_is_never_served_before_the_job_is_complete(client: httpx.Client) -> None:
    job_id = submit(client, make_text_pdf(12)).json()["id"]
    early = client.get(f"/v1/jobs/{job_id}/result")
    status = client.get(f"/v1/jobs/{job_id}").json()
    if status["state"] in ("queued", "running"):  # it may not have finished yet: then there is no result
        assert early.status_code == 409 and early.json()["code"] == "job_not_finished", early.text
    assert wait_final(client, job_id)["state"] == "succeeded"
    assert len(DocumentGraph.model_validate_json(client.get(f"/v1/jobs/{job_id}/result").content).pages) == 12


def test_sync_convert_over_the_page_limit_points_to_jobs(client: httpx.Client) -> None:
    r = client.post("/v1/convert", files={"file": ("big.pdf", make_text_pdf(SYNC_MAX + 1), "application/pdf")})
    assert r.status_code == 413
    body = r.json()
    assert body["code"] == "use_jobs" and "/v1/jobs" in body["message"] and body["details"]["limit"] == SYNC_MAX
    ok = client.post("/v1/convert", params={"pages": "1-2"}, files={"file": ("big.pdf", make_text_pdf(SYNC_MAX + 1))})
    assert ok.status_code == 200, "a page range within the limit is fine"


def test_events_stream_pages_then_done(client: httpx.Client) -> None:
    job_id = submit(client, make_text_pdf(4)).json()["id"]
    events: list[tuple[str, dict[str, Any]]] = []  # (event name, its JSON data)
    with client.stream("GET", f"/v1/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    names = [n for n, _ in events]
    assert names[-1] == "done" and events[-1][1]["state"] == "succeeded"
    pages = [d for n, d in events if n == "page"]
    assert sorted(p["page"]["page_no"] for p in pages) == [1, 2, 3, 4]
    assert all(p["blocks"] for p in pages)
    assert "progress" in names
    # the page events name, place and read every block as the final graph does
    result = client.get(f"/v1/jobs/{job_id}/result").json()
    final = {b["id"]: (b["page_no"], b["bbox"], b["text"]) for b in result["blocks"]}
    streamed = {b["id"]: (b["page_no"], b["bbox"], b["text"]) for p in pages for b in p["blocks"]}
    assert streamed == final


def test_cancel_a_running_job(client: httpx.Client) -> None:
    pages = 400  # ~15 s of layout on 2 cores: still running when the cancel lands ~0.6 s in, on a faster CPU too
    job_id = submit(client, make_text_pdf(pages, paragraphs=2)).json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/v1/jobs/{job_id}").json()["pages_done"] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    r = client.delete(f"/v1/jobs/{job_id}")
    assert r.status_code == 202 and r.json()["cancel_requested"]
    status = wait_final(client, job_id, timeout_s=30)
    assert status["state"] == "cancelled" and status["error"]["code"] == "cancelled"
    assert status["pages_done"] < pages
    assert client.get(f"/v1/jobs/{job_id}/result").status_code == 409
    assert client.delete(f"/v1/jobs/{job_id}").json()["state"] == "cancelled"  # idempotent
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 400, "empty_file"),
        (b"hello, not a pdf" * 10, 415, "not_a_pdf"),
        (b"%PDF-1.7\n" + b"\x00garbage" * 50, 400, None),
    ],
    ids=["empty", "not-a-pdf", "corrupt"],
)
def test_bad_uploads_are_refused_before_a_job_exists(
    client: httpx.Client, data: bytes, status: int, code: str | None
) -> None:
    r = submit(client, data)
    assert r.status_code == status, r.text
    assert r.json()["message"] and (code is None or r.json()["code"] == code)


def test_unknown_and_malformed_job_ids(client: httpx.Client) -> None:
    r = client.get("/v1/jobs/" + "A" * 32)
    assert r.status_code == 404 and r.json()["code"] == "job_not_found"
    assert client.get("/v1/jobs/..%2F..%2Fetc").status_code in (400, 404)
    assert client.get("/v1/jobs/x").status_code == 400  # too short to be an id: never looked up
    assert client.delete("/v1/jobs/" + "B" * 32).status_code == 404


def test_cli_sends_a_large_document_as_a_job(service: EmbeddedService, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from docgraph.cli import cli

    pdf = tmp_path / "long.pdf"
    pdf.write_bytes(make_text_pdf(SYNC_MAX + 1))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["convert", str(pdf), "--url", service.url, "--out", str(out), "--no-layout"])
    assert result.exit_code == 0, result.output
    graph = DocumentGraph.model_validate_json((out / "long.json").read_bytes())
    assert len(graph.pages) == SYNC_MAX + 1 and "Section 51" in (out / "long.md").read_text()
    chunks = Chunks.model_validate_json((out / "long.chunks.json").read_bytes()).chunks  # RAG chunks, as a job
    assert chunks and "Section 51" in chunks[-1].headings and chunks[-1].page_numbers == [SYNC_MAX + 1]
    small = tmp_path / "small.pdf"  # through /v1/convert?format=zip: every format from the bundle
    small.write_bytes(make_text_pdf(2))
    result = CliRunner().invoke(cli, ["convert", str(small), "--url", service.url, "--out", str(out), "--no-layout"])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir() if p.name.startswith("small.")}
    assert names == {"small.json", "small.md", "small.html", "small.docling.json", "small.chunks.json"}
    assert Chunks.model_validate_json((out / "small.chunks.json").read_bytes()).chunks[0].page_numbers == [1]


def test_readiness_stays_ready_while_ocr_is_busy(client: httpx.Client) -> None:
    """Issue 26 item 2: /readyz polled beside a job that keeps the OCR replica's every slot busy. The OCR
    deployment's health call waits behind that work past readiness's deadline (1 s in the tests); a busy model
    that answered before and that Serve reports HEALTHY is ready (503 here was the defect)."""
    accepted = submit(client, make_text_pdf(8), ocr="always")  # 8 OCR calls: two rounds of its 4 slots
    assert accepted.status_code == 202, accepted.text[:300]
    job_id = accepted.json()["id"]
    answers: list[tuple[int, str]] = []
    while client.get(f"/v1/jobs/{job_id}").json()["state"] not in {"succeeded", "partially_succeeded", "failed"}:
        r = client.get("/readyz")
        answers.append((r.status_code, " | ".join(c["detail"] for c in r.json()["components"])))
        time.sleep(0.2)
    assert wait_final(client, job_id)["state"] == "succeeded"
    assert len(answers) >= 3, answers  # polled while the OCR ran
    assert all(status == 200 for status, _ in answers), answers
    assert any("busy: its health call waited" in detail for _, detail in answers), answers  # the path under test
