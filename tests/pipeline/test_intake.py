"""Intake: what happens to bad uploads before any page is touched (real PyMuPDF, generated PDFs)."""

from __future__ import annotations

import pymupdf
import pytest

from docgraph.samples import make_text_pdf
from pipeline.errors import (
    CorruptDocumentError,
    DocumentTooLargeError,
    EmptyDocumentError,
    NotAPdfError,
    PageRenderError,
    PasswordRequiredError,
    UnusableDocumentError,
)
from pipeline.options import InvalidOptionsError, Limits, parse_page_range
from pipeline.pdf import open_document
from tests.images import image_upload, png_bomb

LIMITS = Limits()


def _encrypted(user_pw: str) -> bytes:
    doc = pymupdf.open(stream=make_text_pdf(1), filetype="pdf")
    data: bytes = doc.tobytes(encryption=pymupdf.mupdf.PDF_ENCRYPT_AES_256, user_pw=user_pw, owner_pw="owner")
    return data


def test_empty_upload_is_rejected() -> None:
    with pytest.raises(EmptyDocumentError):
        open_document(b"", limits=LIMITS)


def test_a_png_named_pdf_opens_as_an_image_and_a_gif_is_not_a_pdf() -> None:
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 4, 4), False)
    doc = open_document(pix.tobytes("png"), limits=LIMITS)
    assert doc.page_count == 1 and doc.geometry(1).width == pytest.approx(3.0, abs=0.01)  # 4 px at its 96 dpi
    with pytest.raises(NotAPdfError, match="PNG, JPEG, TIFF or WebP"):
        open_document(b"GIF89a" + b"\0" * 64, limits=LIMITS)


IMAGES = [("PNG", 1, None), ("JPEG", 1, 300), ("TIFF", 3, 200), ("WEBP", 1, None)]  # Pillow writes no WebP dpi


@pytest.mark.parametrize(("fmt", "frames", "dpi"), IMAGES)
def test_an_image_opens_as_one_page_per_frame_sized_from_its_resolution(fmt: str, frames: int, dpi: int | None) -> None:
    doc = open_document(image_upload(fmt, frames, dpi=dpi), limits=LIMITS)
    assert doc.page_count == frames
    scale = 72 / (dpi or 144)  # 1200 x 800 px
    assert (doc.geometry(frames).width, doc.geometry(frames).height) == pytest.approx((1200 * scale, 800 * scale))
    assert doc.text_layer(1).chars == 0 and doc.text_layer(1).image_coverage > 0.99  # a scan: OCR reads it


def test_a_broken_image_and_a_bomb_are_refused_before_decoding() -> None:
    png = image_upload("PNG")
    with pytest.raises(CorruptDocumentError) as broken:
        open_document(png[: len(png) // 2], limits=LIMITS)
    assert broken.value.code == "corrupt_image"
    with pytest.raises(UnusableDocumentError) as bomb:
        open_document(png_bomb(), limits=LIMITS)
    assert bomb.value.code == "image_too_large"
    small = LIMITS.model_copy(update={"max_image_pixels": 1000, "max_pages": 2})
    with pytest.raises(UnusableDocumentError) as large:
        open_document(png, limits=small)
    assert large.value.code == "image_too_large"
    with pytest.raises(DocumentTooLargeError) as frames:
        open_document(image_upload("TIFF", 3), limits=small.model_copy(update={"max_image_pixels": 10**7}))
    assert frames.value.code == "too_many_pages"


def test_too_many_bytes() -> None:
    data = make_text_pdf(1)
    with pytest.raises(DocumentTooLargeError) as err:
        open_document(data, limits=Limits(max_bytes=len(data) - 1))
    assert err.value.code == "too_large"


def test_too_many_pages() -> None:
    with pytest.raises(DocumentTooLargeError) as err:
        open_document(make_text_pdf(3), limits=Limits(max_pages=2))
    assert err.value.code == "too_many_pages"


def test_zero_page_pdf_is_unusable() -> None:
    data = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF"
    )
    with pytest.raises(UnusableDocumentError) as err:
        open_document(data, limits=LIMITS)
    assert err.value.code == "no_pages"


def test_encrypted_needs_password_then_opens_with_it() -> None:
    data = _encrypted("secret")
    with pytest.raises(PasswordRequiredError) as err:
        open_document(data, limits=LIMITS)
    assert err.value.code == "password_required"
    with pytest.raises(PasswordRequiredError) as err:
        open_document(data, limits=LIMITS, password="wrong")
    assert err.value.code == "wrong_password"
    doc = open_document(data, limits=LIMITS, password="secret")
    assert doc.page_count == 1 and doc.meta.encrypted
    assert "Section 1" in doc.text_layer(1).blocks[0].text


def test_garbage_after_header_is_corrupt_or_repaired() -> None:
    data = b"%PDF-1.7\n" + b"\x00garbage" * 100
    with pytest.raises((CorruptDocumentError, UnusableDocumentError)) as err:
        open_document(data, limits=LIMITS)
    assert err.value.code in {"corrupt_pdf", "no_pages"}


def test_page_range_parsing() -> None:
    assert parse_page_range(None, 3) == [1, 2, 3]
    assert parse_page_range("3,1-2,2", 5) == [1, 2, 3]
    for bad in ("0", "4", "2-1", "a", "1-"):
        with pytest.raises(InvalidOptionsError):
            parse_page_range(bad, 3)


def test_render_lowers_dpi_to_fit_the_pixel_budget() -> None:
    doc = open_document(make_text_pdf(1), limits=Limits(max_page_pixels=1_000_000))
    image, warning = doc.render(1, dpi=300)
    assert image.width * image.height <= 1_000_000
    assert warning is not None and "instead of 300" in warning


def test_render_refuses_pages_that_draw_huge_images() -> None:
    src = pymupdf.open(stream=make_text_pdf(1), filetype="pdf")
    src[0].insert_image(
        pymupdf.Rect(0, 0, 100, 100), pixmap=pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 300, 300), False)
    )
    doc = open_document(src.tobytes(), limits=Limits(max_image_pixels=50_000))
    with pytest.raises(PageRenderError) as err:
        doc.render(1, dpi=72)
    assert err.value.code == "image_too_large"


def test_rotated_page_geometry_maps_content_to_display() -> None:
    src = pymupdf.open(stream=make_text_pdf(1), filetype="pdf")
    src[0].set_rotation(90)
    doc = open_document(src.tobytes(), limits=LIMITS)
    geo = doc.geometry(1)
    assert (geo.width, geo.height) == (612, 792) and (geo.display_width, geo.display_height) == (792, 612)
    layer = doc.text_layer(1)
    line = layer.blocks[0].lines[0]
    shown = geo.bbox_to_display(line.bbox)
    assert shown.width == pytest.approx(line.bbox.height, abs=0.5)  # a horizontal line shows vertically
    image, _ = doc.render(1, dpi=72)
    assert (image.width, image.height) == (612, 792)  # models see the page upright (content space)
