"""The viewer at /ui in real headless Chromium against the running service: what it draws is the graph the API
returns (every block a box, a table's cells in the panel, the section tree), a job's pages appear as they finish,
failed pages and hostile uploads show the service's own errors, and the API key travels only as a header."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pymupdf
import pytest

from docgraph.embedded import EmbeddedService
from docgraph.samples import make_flate_bomb_pdf, make_text_pdf
from serve.args import JobsConfig, SqliteStoreConfig
from tests.conftest import ingress_only_app
from tests.images import WORDS, image_upload

pytestmark = [pytest.mark.browser, pytest.mark.serve]
KEY = "viewer-key-0123456789abcdef"
Page = Any  # playwright.sync_api.Page (imported lazily: the package is a test dependency)


def convert(client: httpx.Client, data: bytes, **params: str) -> dict[str, Any]:
    r = client.post("/v1/convert", params=params, files={"file": ("doc.pdf", data, "application/pdf")})
    assert r.status_code == 200, r.text[:300]
    body: dict[str, Any] = r.json()
    return body


def upload(page: Page, data: bytes, name: str = "doc.pdf", *, mode: str = "auto", password: str = "") -> None:
    page.set_input_files("#file", files=[{"name": name, "mimeType": "application/pdf", "buffer": data}])
    page.select_option("#mode", mode)
    page.fill("#password", password)
    page.click("#run")


def wait_shown(page: Page) -> int:
    """Wait until the viewer shows a graph; the number of blocks it says it holds."""
    try:
        page.wait_for_selector("#doc-status[data-blocks]")
    except Exception as exc:
        said = {what: page.text_content(what) for what in ("#progress", "#error", "#doc-status")}
        raise AssertionError(f"the viewer showed no graph: {said}") from exc
    return int(page.get_attribute("#doc-status", "data-blocks"))


def draw_every_page(page: Page) -> None:
    """Scroll each page into view (boxes and images are drawn lazily) and wait for its boxes and image."""
    for n in range(1, page.locator("section.page").count() + 1):
        section = page.locator(f"#page-{n}")
        section.scroll_into_view_if_needed()
        page.wait_for_function(
            "n => { const s = document.getElementById('page-' + n); return s.dataset.rendered === 'yes' && "
            "(s.classList.contains('s-failed') || ['loaded', 'failed'].includes(s.dataset.image)); }",
            arg=n,
        )


def view(page: Page, url: str, client: httpx.Client, data: bytes, name: str) -> dict[str, Any]:
    """Convert ``data`` in the viewer and through the API; every page drawn, each block of the API's graph a box
    of its id and type. The API's graph."""
    page.goto(f"{url}/ui")
    upload(page, data, name)
    graph = convert(client, data)
    assert wait_shown(page) == len(graph["blocks"])
    draw_every_page(page)
    drawn = page.eval_on_selector_all(".box", "boxes => boxes.map(b => [b.dataset.id, b.dataset.type])")
    assert sorted(map(tuple, drawn)) == sorted((b["id"], b["type"]) for b in graph["blocks"])
    return graph


def test_every_block_is_a_box_and_a_table_shows_its_cells(
    browser_page: Page, service: EmbeddedService, client: httpx.Client, sample_pdf: bytes, artifacts: Path
) -> None:
    page = browser_page
    graph = view(page, service.url, client, sample_pdf, "sample.pdf")
    drawn = page.eval_on_selector_all(".box", "boxes => boxes.map(b => b.dataset.type)")
    assert page.eval_on_selector_all("section.page", "s => s.map(p => p.dataset.image)") == ["loaded"] * 3
    assert Counter(drawn)["table"] == 2  # page 1's, and its scanned copy's on page 3
    page.screenshot(path=str(artifacts / "sample.png"), full_page=False)

    table = next(b for b in graph["blocks"] if b["type"] == "table" and b["page_no"] == 1)
    page.click(f'.box[data-id="{table["id"]}"]')
    cells = page.locator("#panel-table table.cells").locator("td, th")
    assert cells.count() == len(table["cells"]) == 12
    assert sorted(cells.all_text_contents()) == sorted(c["text"] for c in table["cells"])
    assert page.locator("#panel-table th").count() == sum(c["column_header"] or c["row_header"] for c in table["cells"])
    assert page.text_content("#panel-title").startswith(f"table · page {table['page_no']}")
    page.screenshot(path=str(artifacts / "sample-table.png"))
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "viewer.png"))  # the README's (docs/img/viewer.png)

    # the outline is the section tree: the title, then each section's heading; a click selects the heading
    sections = [g for g in graph["groups"] if g["kind"] == "section"]
    links = page.locator("#outline-list a")
    assert links.count() == len(sections) + 1 and links.first.text_content() == graph["document"]["title"]
    heading = next(b for b in graph["blocks"] if b["id"] == sections[-1]["heading"])
    links.last.click()
    page.wait_for_selector(f'.box.selected[data-id="{heading["id"]}"]')
    assert page.text_content("#panel-text") == heading["text"]

    # from the keyboard: the focused box's neighbour in reading order
    first = page.locator(".box").first
    first.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowRight")
    second = page.locator(".box").nth(1).get_attribute("data-id")
    assert page.locator(".box.selected").get_attribute("data-id") == second
    page.keyboard.press("Escape")
    assert page.locator("#panel").is_hidden()

    # the downloads are the service's formats (GET /v1/formats, from the export registry), and one downloads
    formats = [f for f in client.get("/v1/formats").json() if f["name"] != "zip"]
    buttons = page.locator("#formats button")
    assert buttons.all_text_contents() == [f["label"] for f in formats]
    with page.expect_download() as download:
        page.click('#formats button[data-format="markdown"]')
    assert download.value.suggested_filename == "sample.md"


def test_a_corpus_document_with_a_table(
    browser_page: Page, service: EmbeddedService, client: httpx.Client, corpus: Path, artifacts: Path
) -> None:
    page = browser_page
    graph = view(page, service.url, client, (corpus / "normal_4pages.pdf").read_bytes(), "normal_4pages.pdf")
    tables = [b for b in graph["blocks"] if b["type"] == "table" and b["cells"]]
    assert tables, "the corpus document's table has cells"
    page.locator(f'.box[data-id="{tables[0]["id"]}"]').click()
    assert page.locator("#panel-table table.cells").locator("td, th").count() == len(tables[0]["cells"])
    page.screenshot(path=str(artifacts / "normal_4pages-table.png"))


def test_a_jobs_pages_appear_as_they_finish(
    browser_page: Page, service: EmbeddedService, client: httpx.Client, artifacts: Path
) -> None:
    pages = 100  # ~4 s of layout here: many of the job's progress writes (jobs.heartbeat_s: 0.5 s here)
    page = browser_page
    page.goto(f"{service.url}/ui")
    page.wait_for_selector("#opt-ocr")
    page.evaluate(  # every change of the progress line, with the number of pages drawn at that moment
        """() => { window.seen = []; new MutationObserver(() => window.seen.push([
             document.getElementById('progress').textContent,
             document.querySelectorAll('section.page:not(.pending)').length])).observe(
             document.getElementById('progress'), {childList: true, characterData: true, subtree: true}); }"""
    )
    upload(page, make_text_pdf(pages), "long.pdf", mode="job")
    wait_shown(page)
    seen: list[list[Any]] = page.evaluate("window.seen")
    counts = [shown for text, shown in seen if " of " in text]
    assert counts == sorted(counts), seen  # pages only ever appear
    assert any(0 < shown < pages for shown in counts), f"no page was shown before the job ended: {seen}"
    assert seen[-1][0].endswith(f"succeeded, {pages} of {pages} pages")
    assert page.locator("section.page").count() == pages
    page.locator("#page-1").scroll_into_view_if_needed()
    page.wait_for_function("() => document.getElementById('page-1').dataset.image === 'loaded'")  # from the job's PDF
    assert page.locator("section.page[data-rendered='yes']").count() < pages  # lazily: not every page at once
    job = page.text_content("#progress").split()[1].rstrip(":")
    result = client.get(f"/v1/jobs/{job}/result").json()
    draw_every_page(page)
    assert page.locator(".box").count() == len(result["blocks"])
    page.screenshot(path=str(artifacts / "job.png"))


def test_a_failed_page_and_hostile_uploads_show_the_services_errors(
    browser_page: Page, service: EmbeddedService, client: httpx.Client, artifacts: Path
) -> None:
    page = browser_page
    page.goto(f"{service.url}/ui")
    doc = pymupdf.open(stream=make_text_pdf(1))
    doc.insert_pdf(pymupdf.open(stream=make_flate_bomb_pdf(20_500, pages=1)))  # page 2 must not be decoded
    upload(page, doc.tobytes(), "bomb.pdf")
    wait_shown(page)
    failed = page.locator("#page-2")
    assert "s-failed" in (failed.get_attribute("class") or "")
    error = failed.locator(".page-error").text_content() or ""
    assert error.startswith("Failed in step render: image_too_large:") and "decode budget" in error, error
    assert "partial" in (page.text_content("#doc-status") or "")
    failed.locator(".page-error").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "failed-page.png"))

    hostile = ((b"hello, this is not a PDF", "note.pdf"), (b"", "empty.pdf"), (b"%PDF-1.7\n%%EOF\n", "no-pages.pdf"))
    for data, name in hostile:
        expected = client.post("/v1/convert", files={"file": (name, data, "application/pdf")})
        assert expected.status_code >= 400
        upload(page, data, name)
        page.wait_for_selector("#error:not([hidden])")
        body = expected.json()
        assert page.text_content("#error") == f"HTTP {expected.status_code} {body['code']}: {body['message']}"
        assert page.locator(".box").count() == 0
    page.screenshot(path=str(artifacts / "hostile.png"))

    encrypted = pymupdf.open(stream=make_text_pdf(2)).tobytes(
        encryption=pymupdf.mupdf.PDF_ENCRYPT_AES_256, user_pw="s3cret", owner_pw="owner"
    )
    upload(page, encrypted, "locked.pdf")
    page.wait_for_selector("#error:not([hidden])")
    assert "password_required" in (page.text_content("#error") or "")
    upload(page, encrypted, "locked.pdf", password="s3cret")  # the password goes in the form; images too
    assert wait_shown(page) > 0
    draw_every_page(page)
    assert page.eval_on_selector_all("section.page", "s => s.map(p => p.dataset.image)") == ["loaded"] * 2


@pytest.fixture(scope="module")
def secured(service: EmbeddedService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = SqliteStoreConfig(path=str(tmp_path_factory.mktemp("viewer-secured") / "jobs.sqlite3"))
    with ingress_only_app(service, "viewersecured", JobsConfig(store=store), env={"DOCGRAPH_API_KEY": KEY}):
        yield f"{service.url}/viewersecured"


def test_the_api_key_is_sent_as_a_header_and_never_in_a_url(browser_page: Page, secured: str) -> None:
    page = browser_page
    requests: list[tuple[str, str | None]] = []
    page.on("request", lambda r: requests.append((r.url, r.headers.get("x-api-key"))))
    page.goto(f"{secured}/ui")  # the viewer under a route prefix, as behind a gateway
    page.wait_for_selector("#key-field.needed")  # /v1/models answered 401: the key field is marked
    data = make_text_pdf(2)
    upload(page, data, "two.pdf")
    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error") == "HTTP 401 unauthorized: missing or wrong API key"
    before = len(requests)
    page.fill("#api-key", KEY)
    page.dispatch_event("#api-key", "change")
    upload(page, data, "two.pdf")
    assert wait_shown(page) > 0
    draw_every_page(page)
    upload(page, data, "two.pdf", mode="job")
    wait_shown(page)  # the job's final graph
    draw_every_page(page)  # the job's page images, from its stored PDF
    v1 = [(url, key) for url, key in requests[before:] if "/v1/" in url]
    assert any("/v1/convert" in url for url, _ in v1) and any("/events" in url for url, _ in v1)
    assert any("/image" in url for url, _ in v1) and any("/v1/render" in url for url, _ in v1)
    assert all(key == KEY for _, key in v1), v1
    assert all(KEY not in url for url, _ in requests)


@pytest.mark.parametrize(("fmt", "mime", "frames"), [("PNG", "image/png", 1), ("TIFF", "image/tiff", 3)])
def test_an_image_upload_shows_its_pages_and_blocks(
    browser_page: Page,
    service: EmbeddedService,
    client: httpx.Client,
    artifacts: Path,
    fmt: str,
    mime: str,
    frames: int,
) -> None:
    """Issue 25: a PNG and a 3-frame TIFF chosen in the viewer convert (the OCR route); every frame is a page whose
    image the service renders from the upload, each block of the API's graph a box on it, the words read."""
    data = image_upload(fmt, frames)
    name = f"scan.{fmt.lower()}"
    page = browser_page
    page.goto(f"{service.url}/ui")
    assert "image" in page.text_content("#file-name")  # the picker says images are taken, not only PDFs
    page.set_input_files("#file", files=[{"name": name, "mimeType": mime, "buffer": data}])
    page.click("#run")
    r = client.post("/v1/convert", params={"format": "json"}, files={"file": (name, data, mime)})
    assert r.status_code == 200, r.text[:300]
    graph = r.json()
    assert wait_shown(page) == len(graph["blocks"]) > 0
    draw_every_page(page)
    assert page.eval_on_selector_all("section.page", "s => s.map(p => p.dataset.image)") == ["loaded"] * frames
    drawn = page.eval_on_selector_all(".box", "boxes => boxes.map(b => [b.dataset.id, b.dataset.type, b.title])")
    assert sorted((i, t) for i, t, _ in drawn) == sorted((b["id"], b["type"]) for b in graph["blocks"])
    for k in range(1, frames + 1):  # each frame's words, on its own page
        assert any(WORDS in b["text"] for b in graph["blocks"] if b["page_no"] == k)
        assert page.locator(f"#page-{k} .box").count() == sum(b["page_no"] == k for b in graph["blocks"])
    assert any(WORDS in title for _, _, title in drawn)
    page.screenshot(path=str(artifacts / f"image-upload-{fmt.lower()}.png"))
    with page.expect_download() as download:
        page.click('#formats button[data-format="markdown"]')
    assert download.value.suggested_filename == "scan.md"
