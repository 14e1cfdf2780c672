"""docling-serve's v1 API on the real service, driven by the clients people run: docling-client's
``DoclingServiceClient`` (websocket and polling), the exact request Open WebUI's Docling loader sends (with
``requests``, as Open WebUI does), and Open WebUI's "External" loader (``PUT /process``)."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import requests
from docling.datamodel.service.responses import ChunkDocumentResponse, ConvertDocumentResponse, TaskStatusResponse
from docling.service_client import DoclingServiceClient
from docling.service_client.client import ChunkerKind, StatusWatcherKind
from docling_core.types.doc.common.constants import CURRENT_VERSION

from docgraph.embedded import EmbeddedService
from docgraph.samples import make_sample_pdf, make_table_pdf, make_text_pdf
from pipeline.images import image_format
from serve.args import DoclingApiConfig, JobsConfig, SqliteStoreConfig
from serve.doclingapi.docversion import HEADER
from tests.conftest import corpus_manifest, ingress_only_app
from tests.textsim import similarity

pytestmark = pytest.mark.serve
KEY = "docling-key-0123456789abcdef"
OPEN_WEBUI_PARAMS = {  # DOCLING_PARAMS as Open WebUI sends them: dicts/lists JSON-encoded, bools as "true"/"false"
    "do_ocr": "true",
    "ocr_engine": "tesseract",
    "ocr_lang": json.dumps(["eng", "deu"]),
    "pdf_backend": "dlparse_v4",
    "table_mode": "accurate",
    "do_picture_description": "false",
    "picture_description_mode": "none",
}


def open_webui_post(url: str, path: Path, key: str | None) -> requests.Response:
    """Open WebUI's DoclingLoader.load(), request for request."""
    with path.open("rb") as f:
        return requests.post(
            f"{url}/v1/convert/file",
            files={"files": (str(path), f, "application/pdf")},
            data={"image_export_mode": "placeholder", **OPEN_WEBUI_PARAMS},
            headers={"X-Api-Key": key} if key else {},
            timeout=300,
        )


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files under a temp path like Open WebUI's uploads folder (the client sends that whole path as the name)."""
    folder = tmp_path_factory.mktemp("open-webui") / "uploads"
    folder.mkdir()
    (folder / "5f0c_sample.pdf").write_bytes(make_sample_pdf())
    (folder / "table.pdf").write_bytes(make_table_pdf("ruled")[0])
    (folder / "text12.pdf").write_bytes(make_text_pdf(12))
    return folder


def test_open_webui_docling_loader_gets_markdown(service: EmbeddedService, uploads: Path) -> None:
    r = open_webui_post(service.url, uploads / "5f0c_sample.pdf", key=None)
    assert r.status_code == 200, r.text
    body = ConvertDocumentResponse.model_validate(r.json())
    md = body.document.md_content or ""
    assert "# Sample Report on Document Graphs" in md and "<!-- image -->" in md  # the figure: a placeholder
    assert body.document.filename == "5f0c_sample.pdf"  # the base name only, never the client's path
    assert body.status.value == "success"
    notes = [e for e in body.errors if e.component_type.value == "user_input"]
    assert any("ocr_engine" in e.error_message for e in notes) and any(
        "picture_description_mode" in e.error_message for e in notes
    )
    assert body.processing_time > 0 and "pipeline_total" in body.timings


def test_to_formats_as_repeated_fields_or_a_json_array(client: httpx.Client, uploads: Path) -> None:
    pdf = (uploads / "table.pdf").read_bytes()
    files = {"files": ("table.pdf", pdf, "application/pdf")}
    repeated = client.post("/v1/convert/file", files=files, data={"to_formats": ["md", "json", "html", "text"]})
    as_json = client.post("/v1/convert/file", files=files, data={"to_formats": '["md","json","html","text"]'})
    for r in (repeated, as_json):
        assert r.status_code == 200, r.text
        doc = ConvertDocumentResponse.model_validate(r.json()).document
        assert doc.md_content and doc.html_content and doc.text_content and doc.json_content is not None
        tables = doc.json_content.tables
        assert tables and tables[0].data.num_rows >= 3 and "<table>" in doc.html_content
    bad = client.post("/v1/convert/file", files=files, data={"to_formats": "pdfx"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:2] == ["body", "to_formats"]


@pytest.mark.parametrize("watcher", [StatusWatcherKind.WEBSOCKET, StatusWatcherKind.POLLING])
def test_docling_client_converts_through_the_async_routes(
    service: EmbeddedService, uploads: Path, watcher: StatusWatcherKind
) -> None:
    """docling-client tries a presigned-URL target first, is told there is no artifact storage, falls back to an
    in-body result; it follows the task over the websocket (no fallback to polling allowed) or by polling."""
    with DoclingServiceClient(
        url=service.url, status_watcher=watcher, ws_fallback_to_poll=False, poll_server_wait=2.0, job_timeout=300
    ) as client:
        assert client.health().status == "ok"
        assert "docling-core" in client.version()
        result = client.convert(uploads / "table.pdf")
    assert result.status.value == "success"
    doc = result.document
    assert doc.tables
    own = httpx.post(
        f"{service.url}/v1/convert",
        params={"format": "docling"},
        files={"file": ("table.pdf", (uploads / "table.pdf").read_bytes(), "application/pdf")},
        timeout=300,
    ).json()
    assert len(doc.texts) == len(own["texts"]) and doc.tables[0].data.num_cols == own["tables"][0]["data"]["num_cols"]


def test_accept_docling_document_version_as_docling_client_sends_it(
    service: EmbeddedService, client: httpx.Client, uploads: Path
) -> None:
    """docling-client sends its docling-core's CURRENT_VERSION on every request: the document comes back written at
    that schema; an older version gets its own schema (keys added later left out), no header 1.5.0; a version docgraph
    cannot write (older than 1.5.0, or not a version) is a 422 in docling's shape, at submission already."""
    results: list[str] = []

    def keep(response: httpx.Response) -> None:
        if response.url.path.startswith("/v1/result/"):
            response.read()
            results.append(response.json()["document"]["json_content"]["version"])

    with DoclingServiceClient(url=service.url, ws_fallback_to_poll=False, job_timeout=300) as docling:
        http = docling._http_client  # docling-client's own httpx client: the headers it sends
        assert http.headers[HEADER] == CURRENT_VERSION
        http.event_hooks["response"].append(keep)
        assert docling.convert(uploads / "table.pdf").document.tables
    assert results == [CURRENT_VERSION]

    files = {"files": ("table.pdf", (uploads / "table.pdf").read_bytes(), "application/pdf")}
    for header, written in ((None, "1.5.0"), ("1.7.2", "1.7.0"), (CURRENT_VERSION, CURRENT_VERSION)):
        r = client.post(
            "/v1/convert/file", files=files, data={"to_formats": "json"}, headers={HEADER: header} if header else {}
        )
        assert r.status_code == 200, r.text
        doc = r.json()["document"]["json_content"]
        assert doc["version"] == written and doc["tables"][0]["data"]["num_cols"] >= 3
        if written == "1.5.0":  # what docling-core 2.39 reads: none of the keys later schemas added, even empty
            assert not [
                key for key in ("fillable", "meta", "comments", "field_regions") if f'"{key}"' in json.dumps(doc)
            ]
    for bad in ("1.4.0", "latest"):
        for path in ("/v1/convert/file", "/v1/convert/file/async", "/v1/chunk/hierarchical/file/async"):
            refused = client.post(path, files=files, headers={HEADER: bad})
            assert refused.status_code == 422, (path, refused.text)
            assert refused.json()["code"] == "unsupported_document_version" and bad in refused.json()["detail"]
    task_id = client.post("/v1/convert/file/async", files=files, data={"to_formats": "json"}).json()["task_id"]
    assert client.get(f"/v1/status/poll/{task_id}", params={"wait": 60}).json()["task_status"] == "success"
    later = client.get(f"/v1/result/{task_id}", headers={HEADER: "1.8.0"})  # the reader's header decides
    assert later.json()["document"]["json_content"]["version"] == "1.8.0"
    assert client.get(f"/v1/result/{task_id}", headers={HEADER: "1.2.0"}).status_code == 422


def test_corpus_pdfs_through_docling_client(service: EmbeddedService, corpus: Path) -> None:
    names = [f["filename"] for f in corpus_manifest() if f["filename"] in ("multi_page.pdf", "normal_4pages.pdf")]
    assert names
    with DoclingServiceClient(url=service.url, ws_fallback_to_poll=False, job_timeout=600) as client:
        for name in names:
            result = client.convert(corpus / name)
            truth = (corpus / name.replace(".pdf", ".gt.md")).read_text()
            md = result.document.export_to_markdown()
            assert result.status.value == "success" and len(result.document.pages) >= 4, name
            assert similarity(md, truth) > 0.8, (name, similarity(md, truth))


def test_task_routes_poll_wait_result_and_unknown_tasks(client: httpx.Client, uploads: Path) -> None:
    pdf = (uploads / "text12.pdf").read_bytes()
    r = client.post("/v1/convert/file/async", files={"files": ("text12.pdf", pdf, "application/pdf")})
    assert r.status_code == 200, r.text
    task = TaskStatusResponse.model_validate(r.json())
    assert task.task_status.value in ("pending", "started")
    early = client.get(f"/v1/result/{task.task_id}")
    if early.status_code == 404:  # not done yet: never a partial result
        assert early.json()["detail"].startswith("Task result not found")
    polled = TaskStatusResponse.model_validate(
        client.get(f"/v1/status/poll/{task.task_id}", params={"wait": 60}).json()
    )
    assert polled.task_status.value == "success" and polled.task_meta and polled.task_meta.num_succeeded == 1
    result = ConvertDocumentResponse.model_validate(client.get(f"/v1/result/{task.task_id}").json())
    assert result.document.md_content and result.status.value == "success"
    # the same task is a docgraph job too: its per-page progress is there
    assert client.get(f"/v1/jobs/{task.task_id}").json()["pages_done"] == 12
    for path in ("/v1/status/poll/" + "x" * 32, "/v1/result/" + "x" * 32, "/v1/result/not-an-id"):
        missing = client.get(path)
        assert missing.status_code == 404 and missing.json()["detail"] == "Task not found.", path


def test_source_route_file_base64_and_http_refused_by_default(client: httpx.Client, uploads: Path) -> None:
    pdf = (uploads / "table.pdf").read_bytes()
    source = {"kind": "file", "base64_string": base64.b64encode(pdf).decode(), "filename": "C:\\Users\\me\\t.pdf"}
    r = client.post("/v1/convert/source", json={"sources": [source], "options": {"to_formats": ["json"]}})
    assert r.status_code == 200, r.text
    body = ConvertDocumentResponse.model_validate(r.json())
    assert (
        body.document.filename == "t.pdf"
        and body.document.json_content is not None
        and body.document.md_content is None
    )
    refused = client.post("/v1/convert/source", json={"sources": [{"kind": "http", "url": "http://127.0.0.1:9/x.pdf"}]})
    assert refused.status_code == 403 and "http_source_hosts" in refused.json()["detail"]
    presigned = client.post("/v1/convert/source", json={"sources": [source], "target": {"kind": "presigned_url"}})
    assert presigned.status_code == 422 and "artifact storage" in presigned.json()["detail"]
    two = client.post("/v1/convert/source", json={"sources": [source, source]})
    assert two.status_code == 422 and "one document per request" in two.json()["detail"]


@pytest.mark.parametrize("route", ["/v1/convert/source", "/v1/chunk/hierarchical/source"])
def test_many_invalid_sources_get_one_short_answer(client: httpx.Client, route: str) -> None:
    """Issue 26: one validation error per invalid source made a 2 MB body answer 112 MB; now the count is
    refused before any source is validated."""
    many = json.dumps({"sources": [{"kind": "nope"}] * 200_000})  # ~3 MB of invalid sources
    t0 = time.monotonic()
    r = client.post(route, content=many, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "one document per request (200000 sources sent)" in r.json()["detail"]
    assert len(r.content) < 1000 and time.monotonic() - t0 < 10
    bad = {"kind": "file", "base64_string": 7, "filename": ["x"], "extra": {"deep": [1] * 1000}}
    one = client.post(route, json={"sources": [bad]})  # one invalid source: its errors, bounded
    assert one.status_code == 422 and len(one.content) < 20_000
    assert client.get("/healthz").status_code == 200


def test_chunks_with_headings_pages_and_boxes(client: httpx.Client, uploads: Path) -> None:
    pdf = (uploads / "5f0c_sample.pdf").read_bytes()
    r = client.post("/v1/chunk/hierarchical/file", files={"files": ("s.pdf", pdf, "application/pdf")})
    assert r.status_code == 200, r.text
    chunks = ChunkDocumentResponse.model_validate(r.json()).chunks
    assert len(chunks) >= 3
    assert all(c.page_numbers and c.doc_items for c in chunks)
    assert any(c.headings for c in chunks), "chunks under a heading carry it"
    boxes = [i["bbox"] for c in chunks for i in (c.metadata or {})["items"]]
    assert boxes and all(0 <= b["l"] < b["r"] <= 612 and 0 <= b["t"] < b["b"] <= 792 for b in boxes)
    own = client.post("/v1/convert", params={"format": "chunks"}, files={"file": ("s.pdf", pdf, "application/pdf")})
    assert [c["raw_text"] for c in own.json()["chunks"]] == [c.raw_text for c in chunks]
    with_doc = client.post(  # docling-client's form: convert_<option>, chunking_<option>, include_converted_doc
        "/v1/chunk/hierarchical/file",
        files={"files": ("s.pdf", pdf, "application/pdf")},
        data={"convert_to_formats": "md", "chunking_use_markdown_tables": "true", "include_converted_doc": "true"},
    )
    assert "# Sample Report" in (
        ChunkDocumentResponse.model_validate(with_doc.json()).documents[0].document.md_content or ""
    )
    source = {"kind": "file", "base64_string": base64.b64encode(pdf).decode(), "filename": "s.pdf"}
    by_source = client.post("/v1/chunk/hierarchical/source", json={"sources": [source]})
    assert [c.raw_text for c in ChunkDocumentResponse.model_validate(by_source.json()).chunks] == [
        c.raw_text for c in chunks
    ]
    hybrid = client.post("/v1/chunk/hybrid/file", files={"files": ("s.pdf", pdf, "application/pdf")})
    assert hybrid.status_code == 404 and "tokenizer" in hybrid.json()["detail"]


def test_docling_client_chunks(service: EmbeddedService, uploads: Path) -> None:
    with DoclingServiceClient(url=service.url, ws_fallback_to_poll=False, job_timeout=300) as client:
        response = client.chunk(uploads / "5f0c_sample.pdf", chunker=ChunkerKind.HIERARCHICAL)
    assert len(response.chunks) >= 3 and any(c.headings for c in response.chunks)


def test_a_failed_task_is_a_failure_with_its_reason(client: httpx.Client, uploads: Path) -> None:
    """document_timeout shortens the conversion's deadline; a task that ran out of it is a `failure` with a
    TaskFailureResult, and the sync route answers 504 with the code."""
    files = {"files": ("text12.pdf", (uploads / "text12.pdf").read_bytes(), "application/pdf")}
    task = client.post("/v1/convert/file/async", files=files, data={"document_timeout": "0.001"}).json()
    status = client.get(f"/v1/status/poll/{task['task_id']}", params={"wait": 60}).json()
    assert status["task_status"] == "failure" and status["failure"]["category"] == "timeout", status
    assert "document_timeout" in status["error_message"]
    result = client.get(f"/v1/result/{task['task_id']}").json()
    assert result["kind"] == "TaskFailureResult" and result["failure"]["details"]["code"] == "document_timeout"
    sync = client.post("/v1/convert/file", files=files, data={"document_timeout": "0.001"})
    assert sync.status_code == 504 and sync.json()["code"] == "document_timeout"
    out_of_range = client.post("/v1/convert/file", files=files, data={"page_range": ["20", "30"]})
    assert out_of_range.status_code == 422 and "page_range" in out_of_range.json()["detail"]


def test_hostile_files_get_docling_shaped_errors_and_the_service_stays_ready(
    client: httpx.Client, corpus: Path
) -> None:
    hostile = [f for f in corpus_manifest() if f["kind"] == "hostile" and f["expect"]["outcome"] == "reject"]
    assert len(hostile) >= 4
    for entry in hostile:
        name = entry["filename"]
        data = (corpus / name).read_bytes()
        r = client.post("/v1/convert/file", files={"files": (name, data, "application/pdf")})
        if image_format(data[:16]) is not None:  # an image, whatever its name: converted (the manifest allows it)
            assert r.status_code in (200, 422), (name, r.status_code, r.text)
            continue
        assert r.status_code in entry["expect"]["status"], (name, r.status_code, r.text)
        body = r.json()
        assert isinstance(body["detail"], str) and body["detail"] and body["code"], (name, body)
    assert client.get("/readyz").status_code == 200


def test_open_webui_external_loader(client: httpx.Client, uploads: Path) -> None:
    pdf = (uploads / "5f0c_sample.pdf").read_bytes()
    r = client.put(
        "/process",
        content=pdf,
        headers={"Content-Type": "application/pdf", "X-Filename": "my%20report%2F..%2Fx.pdf"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "# Sample Report on Document Graphs" in body["page_content"]
    assert body["metadata"]["source"] == "x.pdf" and body["metadata"]["page_count"] == 3
    junk = client.put("/process", content=b"not a pdf at all", headers={"Content-Type": "application/pdf"})
    assert junk.status_code == 415 and junk.json()["detail"]


@pytest.fixture(scope="module")
def secured(service: EmbeddedService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """An ingress with the API key on, a short sync wait, and one allowed http source host (a loopback server)."""
    folder = tmp_path_factory.mktemp("docling-secured")
    (folder / "doc.pdf").write_bytes(make_text_pdf(2))

    class Files(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/slow.pdf":  # a byte a second: the fetch deadline is for the whole fetch
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                with contextlib.suppress(OSError):
                    for _ in range(30):
                        self.wfile.write(b"%")
                        self.wfile.flush()
                        time.sleep(1)
            elif self.path == "/doc.pdf":
                body = (folder / "doc.pdf").read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_address[1]}"
    store = SqliteStoreConfig(path=str(folder / "jobs.sqlite3"))
    docling = DoclingApiConfig(http_source_hosts=[host], sync_wait_s=0.2, http_source_timeout_s=3)
    try:
        with ingress_only_app(
            service, "doclingsecured", JobsConfig(store=store), env={"DOCGRAPH_API_KEY": KEY}, docling=docling
        ) as c:
            c.headers["X-Source-Host"] = host  # for the tests below (not sent anywhere)
            yield c
    finally:
        server.shutdown()


def test_wrong_key_is_what_open_webui_shows(secured: httpx.Client, uploads: Path) -> None:
    url = str(secured.base_url).rstrip("/")
    for key in (None, "wrong"):
        r = open_webui_post(url, uploads / "table.pdf", key=key)
        assert r.status_code == 401 and r.reason == "Unauthorized" and r.json()["detail"] == "missing or wrong API key"
    r = open_webui_post(url, uploads / "table.pdf", key=KEY)
    assert r.status_code == 200 and r.json()["document"]["md_content"]
    wrong = secured.put("/process", content=b"%PDF-", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401
    with DoclingServiceClient(url=url, api_key=KEY, ws_fallback_to_poll=False, job_timeout=300) as client:
        # the key in a header on the websocket too (this ingress has no layout model: text-layer blocks only)
        assert client.convert(uploads / "table.pdf").document.texts


def test_sync_wait_ends_with_a_504_naming_the_task_which_goes_on(secured: httpx.Client, uploads: Path) -> None:
    headers = {"X-Api-Key": KEY}
    pdf = make_text_pdf(800, paragraphs=2)  # ~3 s of text-layer pages (200-300 pages/s): 15x the 0.2 s wait
    r = secured.post("/v1/convert/file", headers=headers, files={"files": ("big.pdf", pdf, "application/pdf")})
    assert r.status_code == 504, r.text[:300]
    detail = r.json()["detail"]
    assert "sync_wait_s=0.2 s" in detail
    task_id = detail.rsplit("/v1/result/", 1)[1]
    status = secured.get(f"/v1/status/poll/{task_id}", params={"wait": 60}, headers=headers).json()
    for _ in range(5):
        if status["task_status"] == "success":
            break
        status = secured.get(f"/v1/status/poll/{task_id}", params={"wait": 60}, headers=headers).json()
    assert status["task_status"] == "success"
    result = secured.get(f"/v1/result/{task_id}", headers=headers).json()
    assert result["document"]["md_content"]


def test_http_sources_only_from_allowed_hosts_and_no_redirects(secured: httpx.Client) -> None:
    headers, host = {"X-Api-Key": KEY}, secured.headers["X-Source-Host"]
    ok = secured.post(
        "/v1/convert/source/async",
        headers=headers,
        json={"sources": [{"kind": "http", "url": f"http://{host}/doc.pdf"}], "target": {"kind": "inbody"}},
    )
    assert ok.status_code == 200, ok.text
    task_id = ok.json()["task_id"]
    assert (
        secured.get(f"/v1/status/poll/{task_id}", params={"wait": 60}, headers=headers).json()["task_status"]
        == "success"
    )
    redirect = secured.post(
        "/v1/convert/source", headers=headers, json={"sources": [{"kind": "http", "url": f"http://{host}/moved.pdf"}]}
    )
    assert redirect.status_code == 422 and "HTTP 302" in redirect.json()["detail"]
    slow = secured.post(
        "/v1/convert/source", headers=headers, json={"sources": [{"kind": "http", "url": f"http://{host}/slow.pdf"}]}
    )
    assert slow.status_code == 422 and "longer than 3 s" in slow.json()["detail"]
    other = secured.post(
        "/v1/convert/source", headers=headers, json={"sources": [{"kind": "http", "url": "http://localhost:1/doc.pdf"}]}
    )
    assert other.status_code == 403


def test_a_tables_chunk_carries_its_caption(client: httpx.Client, corpus: Path) -> None:
    pdf = (corpus / "olmo2-pg4.pdf").read_bytes()
    r = client.post("/v1/chunk/hierarchical/file", files={"files": ("olmo2-pg4.pdf", pdf, "application/pdf")})
    chunks = ChunkDocumentResponse.model_validate(r.json()).chunks
    tables = [c for c in chunks if any(i["label"] == "table" for i in (c.metadata or {})["items"])]
    assert tables and tables[0].captions and tables[0].captions[0].startswith("Table1")
