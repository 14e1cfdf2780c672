"""Page images over HTTP: POST /v1/render (any PDF) and GET /v1/jobs/{id}/pages/{n}/image (a job's stored PDF),
bounded like every render; and the viewer's page and assets at /ui, served from the package by name only."""

from __future__ import annotations

import io

import httpx
import pymupdf
import pytest
from PIL import Image

from docgraph.samples import make_flate_bomb_pdf, make_page_tree_cycle_pdf, make_text_pdf
from serve.pageimage import MAX_PREVIEW_DPI
from tests.jobclient import submit, wait_final

pytestmark = pytest.mark.serve


def render(client: httpx.Client, data: bytes, **params: int) -> httpx.Response:
    return client.post("/v1/render", params=params, files={"file": ("doc.pdf", data, "application/pdf")})


def test_render_gives_the_page_as_displayed_at_the_dpi_asked(client: httpx.Client, sample_pdf: bytes) -> None:
    r = render(client, sample_pdf, page=2, dpi=72)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text[:300]
    assert float(r.headers["x-docgraph-dpi"]) == pytest.approx(72.0)
    assert Image.open(io.BytesIO(r.content)).size == (612, 792)  # a letter page at 72 dpi
    doc = pymupdf.open()
    doc.new_page(width=400, height=200).set_rotation(90)  # /Rotate 90: displayed 200 wide, 400 tall
    rotated = render(client, doc.tobytes(), dpi=144)
    assert rotated.status_code == 200 and Image.open(io.BytesIO(rotated.content)).size == (400, 800)


def test_render_refuses_what_it_must_not_draw(client: httpx.Client, sample_pdf: bytes) -> None:
    out_of_range = render(client, sample_pdf, page=4)
    assert out_of_range.status_code == 400 and "not in this 3-page document" in out_of_range.json()["message"]
    too_fine = render(client, sample_pdf, dpi=MAX_PREVIEW_DPI + 1)
    assert too_fine.status_code == 400 and too_fine.json()["code"] == "invalid_request"
    assert render(client, b"hello, not a pdf").json()["code"] == "not_a_pdf"
    bomb = render(client, make_flate_bomb_pdf(20_500, pages=1))  # its image would decode past the budget
    assert bomb.status_code == 422 and bomb.json()["code"] == "image_too_large", bomb.text[:300]
    assert render(client, sample_pdf, page=1).status_code == 200  # and the service goes on


def test_a_page_mupdf_cannot_load_is_a_page_error_not_an_internal_one(client: httpx.Client) -> None:
    cyclic = make_page_tree_cycle_pdf()  # its page tree holds itself: page 2 cannot be loaded (issue 26, item 3)
    r = render(client, cyclic, page=2)
    assert r.status_code == 422 and r.json()["code"] == "render_failed", r.text[:300]
    assert "cycle in page tree" in r.json()["message"]
    assert render(client, cyclic, page=1).status_code == 200
    converted = client.post("/v1/convert", files={"file": ("c.pdf", cyclic, "application/pdf")})
    assert converted.status_code == 200, converted.text[:300]
    pages = {p["page_no"]: p for p in converted.json()["pages"]}
    assert pages[1]["status"] == "ok" and "first page is fine" in converted.text
    assert pages[2]["status"] == "failed" and pages[2]["error"]["code"] == "page_failed"
    accepted = submit(client, cyclic).json()
    assert wait_final(client, accepted["id"])["state"] == "partially_succeeded"
    image = client.get(f"/v1/jobs/{accepted['id']}/pages/2/image", params={"dpi": 36})
    assert image.status_code == 422 and image.json()["code"] == "render_failed", image.text[:300]


def test_a_jobs_pages_render_from_its_stored_pdf_until_it_expires(client: httpx.Client) -> None:
    accepted = submit(client, make_text_pdf(2)).json()
    final = wait_final(client, accepted["id"])
    assert final["state"] == "succeeded"
    r = client.get(f"/v1/jobs/{accepted['id']}/pages/2/image", params={"dpi": 36})
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (306, 396), r.text[:300]
    missing = client.get(f"/v1/jobs/{accepted['id']}/pages/3/image")
    assert missing.status_code == 400 and "not in this 2-page document" in missing.json()["message"]
    assert client.get(f"/v1/jobs/{'0' * 32}/pages/1/image").status_code == 404


def test_the_viewer_is_served_from_the_package_and_nothing_else(client: httpx.Client) -> None:
    page = client.get("/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    slash = client.get("/ui/", headers={"Host": "attacker.example"}, follow_redirects=False)
    assert slash.status_code == 308 and slash.headers["location"] == "/ui"  # relative: never the Host header's
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="ui/viewer.js">' in page.text
    for asset, media in (("viewer.js", "text/javascript"), ("api.js", "text/javascript"), ("viewer.css", "text/css")):
        r = client.get(f"/ui/{asset}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(media), asset
        assert "http://" not in r.text and "https://" not in r.text, f"{asset} loads nothing from elsewhere"
    for name in ("nope.js", "..%2F__init__.py", "%2E%2E%2Fingress.py", "__init__.py", "index.html"):
        assert client.get(f"/ui/{name}").status_code == 404, name
