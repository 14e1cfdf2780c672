"""Image uploads (issue 25): a PNG, JPEG, TIFF (every frame a page) or WebP converts like a scanned PDF over every
entry point (POST /v1/convert, jobs, docling-serve's /v1/convert/file, Open WebUI's PUT /process, the CLI), and a
truncated image or a decompression bomb is refused with its own code before anything is decoded."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from docgraph.embedded import EmbeddedService
from pipeline.graph import DocumentGraph
from tests.images import WORDS, image_upload, png_bomb
from tests.jobclient import submit, wait_final

pytestmark = pytest.mark.serve

MEDIA = {"PNG": "image/png", "JPEG": "image/jpeg", "TIFF": "image/tiff", "WEBP": "image/webp"}


@pytest.mark.parametrize(("fmt", "frames"), [("PNG", 1), ("JPEG", 1), ("TIFF", 3), ("WEBP", 1)])
def test_an_image_converts_as_a_scanned_document(client: httpx.Client, fmt: str, frames: int) -> None:
    data = image_upload(fmt, frames, dpi=200 if fmt == "TIFF" else None)
    r = client.post("/v1/convert", files={"file": (f"scan.{fmt.lower()}", data, MEDIA[fmt])})
    assert r.status_code == 200, r.text[:300]
    graph = r.json()
    assert [p["kind"] for p in graph["pages"]] == ["scanned"] * frames
    # the page's size from the image's resolution: 1200 x 800 px at 200 dpi, else at 144 dpi
    width, height = (432.0, 288.0) if fmt == "TIFF" else (600.0, 400.0)
    assert all(p["width"] == pytest.approx(width) and p["height"] == pytest.approx(height) for p in graph["pages"])
    text = " ".join(b["text"] for b in graph["blocks"])
    assert text.count("4711") == frames, text
    assert all(f"Page {k} of {frames}" in text for k in range(1, frames + 1)), text


def test_an_image_converts_as_a_job_and_over_doclings_api(client: httpx.Client) -> None:
    job = submit(client, image_upload("TIFF", 2), name="scan.tiff")
    assert job.status_code in (200, 202), job.text[:300]
    final = wait_final(client, job.json()["id"])
    assert final["state"] == "succeeded" and final["pages_done"] == 2, final
    docling = client.post("/v1/convert/file", files={"files": ("scan.png", image_upload("PNG"), "image/png")})
    assert docling.status_code == 200, docling.text[:300]
    assert WORDS.split()[-1] in docling.json()["document"]["md_content"]


def test_an_image_converts_over_open_webuis_loader_and_the_cli(
    client: httpx.Client, service: EmbeddedService, tmp_path: Path
) -> None:
    r = client.put(
        "/process", content=image_upload("JPEG"), headers={"Content-Type": "image/jpeg", "X-Filename": "a.jpg"}
    )
    assert r.status_code == 200, r.text[:300]
    assert WORDS.split()[-1] in r.json()["page_content"] and r.json()["metadata"]["page_count"] == 1
    from typer.testing import CliRunner

    from docgraph.cli import cli

    scan = tmp_path / "scan.tiff"
    scan.write_bytes(image_upload("TIFF", 2))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["convert", str(scan), "--url", service.url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    graph = DocumentGraph.model_validate_json((out / "scan.json").read_bytes())
    assert len(graph.pages) == 2 and "4711" in (out / "scan.md").read_text()


def test_a_broken_or_bomb_image_is_refused_with_its_code(client: httpx.Client) -> None:
    png = image_upload("PNG")
    truncated = client.post("/v1/convert", files={"file": ("cut.png", png[: len(png) // 2], "image/png")})
    assert truncated.status_code == 400 and truncated.json()["code"] == "corrupt_image", truncated.text[:300]
    bomb = client.post("/v1/convert", files={"file": ("bomb.png", png_bomb(), "image/png")})
    assert bomb.status_code == 422 and bomb.json()["code"] == "image_too_large", bomb.text[:300]
    gif = client.post("/v1/convert", files={"file": ("x.gif", b"GIF89a" + b"\0" * 64, "image/gif")})
    assert gif.status_code == 415 and gif.json()["code"] == "not_a_pdf"
    assert "PNG, JPEG, TIFF or WebP" in gif.json()["message"]
