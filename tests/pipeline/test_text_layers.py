"""Text layers not to be trusted: a garbled one (unmapped glyphs), an invisible one laid over a scan, or one hidden
under the scan image drawn over it (an earlier OCR, both) is not taken as the page's text; OCR reads the page, and
the page says why (issue 15, third part)."""

from __future__ import annotations

import io
from typing import Any

import pymupdf
import pytest
from PIL import Image

from docgraph.samples import (
    WRONG_OCR_WORDS,
    make_banner_pdf,
    make_landscape_table_pdf,
    make_ocr_layer_scan_pdf,
    make_sample_pdf,
)
from pipeline import textlayer
from pipeline.graph import DocumentGraph, PageKind, Source
from pipeline.options import ConvertOptions, OcrMode
from pipeline.route import classify_page, untrusted_text_layer
from pipeline.textlayer import TEXT_FLAGS, extract_text_layer
from tests.layers import text_layer
from tests.textsim import similarity

MIN_SIMILARITY = 0.85  # measured 1.00 against the sample page's own text layer (2026-12-02); the invisible layer: 0.26


def test_why_a_text_layer_is_not_trusted() -> None:
    assert untrusted_text_layer(text_layer()) is None and classify_page(text_layer()) is PageKind.DIGITAL
    garbled = text_layer(garbled_ratio=0.42)
    assert "garbled: 42%" in (untrusted_text_layer(garbled) or "") and classify_page(garbled) is PageKind.MIXED
    over_scan = text_layer(image_coverage=0.98, invisible_text_ratio=1.0)
    assert "invisible text laid over a scan" in (untrusted_text_layer(over_scan) or "")
    assert classify_page(over_scan) is PageKind.MIXED
    assert untrusted_text_layer(text_layer(chars=3, image_coverage=1.0)) is None  # a plain scan: nothing to distrust
    assert untrusted_text_layer(text_layer(image_coverage=0.98, invisible_text_ratio=0.1)) is None  # a photo page
    under_scan = text_layer(image_coverage=1.0, covered_text_ratio=0.9)
    assert "hidden under the scan image drawn over it (90%" in (untrusted_text_layer(under_scan) or "")
    assert classify_page(under_scan) is PageKind.MIXED
    # a picture placed over part of a page's text (a stamp, a logo) is not a scan
    assert untrusted_text_layer(text_layer(image_coverage=0.2, covered_text_ratio=0.9)) is None


@pytest.mark.parametrize("under_image", [False, True], ids=["invisible", "under-image"])
def test_hidden_text_is_measured_from_what_the_page_draws(under_image: bool) -> None:
    with pymupdf.open(stream=make_ocr_layer_scan_pdf(under_image=under_image), filetype="pdf") as doc:
        found = extract_text_layer(doc[0], max_primitives=20_000)
    assert found.image_coverage > 0.99
    hidden = found.covered_text_ratio if under_image else found.invisible_text_ratio
    assert hidden > 0.99 and (found.invisible_text_ratio if under_image else found.covered_text_ratio) == 0.0
    with pymupdf.open(stream=make_banner_pdf(), filetype="pdf") as doc:  # text beside a picture, none under it
        digital = extract_text_layer(doc[0], max_primitives=20_000)
    assert digital.covered_text_ratio == 0.0 and digital.invisible_text_ratio == 0.0


def test_text_under_a_see_through_image_is_not_hidden() -> None:
    """A full-page image with an alpha channel (a watermark, a stamping tool's overlay) drawn over the text: the
    text shows through, and the page is no scan."""
    buffer = io.BytesIO()
    Image.new("RGBA", (300, 300), (0, 0, 0, 0)).save(buffer, "PNG")
    doc = pymupdf.open(stream=make_banner_pdf(), filetype="pdf")
    page = doc[0]
    page.insert_image(page.rect, stream=buffer.getvalue())  # drawn last, over everything
    found = extract_text_layer(page, max_primitives=20_000)
    assert found.image_coverage > 0.5 and found.covered_text_ratio == 0.0 and untrusted_text_layer(found) is None
    doc.close()


def _inked(log: list[tuple[str, Any]]) -> list[tuple[str, tuple[float, ...]]]:
    return [(kind, tuple(rect)) for kind, rect in log if not pymupdf.Rect(rect).is_empty]


def _line_texts(page: pymupdf.Page, textpage: pymupdf.TextPage) -> list[str]:
    found = page.get_text("dict", textpage=textpage)["blocks"]
    lines = ["".join(s["text"] for s in line["spans"]).split() for b in found for line in b.get("lines", [])]
    return [" ".join(words) for words in lines if words]


@pytest.mark.parametrize(
    ("pdf", "rotation"),
    [
        (make_sample_pdf(), 0),
        (make_banner_pdf(), 0),
        (make_ocr_layer_scan_pdf(), 0),
        (make_ocr_layer_scan_pdf(under_image=True), 0),
        (make_landscape_table_pdf(ruled=True, rotation=90)[0], 90),
    ],
    ids=["sample", "banner", "invisible-layer", "under-image", "rotate-90-ruled"],
)
def test_one_record_of_the_page_gives_pymupdfs_own_text_and_drawing_log(pdf: bytes, rotation: int) -> None:
    """The text layer interprets a page once (a display list) and reads both its text and its drawing log from
    that record: the same inked items (kinds and boxes, drawing order) as ``Page.get_bboxlog`` and the same lines
    as ``Page.get_textpage``, on a /Rotate'd page too (both in content space). The record leaves out what draws
    nothing (glyphs of spaces, a shading clipped away): the only differences seen over 173 corpus pages were line
    boxes that ended at a trailing space (up to 3 pt) and a doubled space read as one."""
    lines = 0
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        for page in doc:
            recorded = textlayer._recorded(page)
            assert _inked(textlayer._drawing_log(recorded)) == _inked(page.get_bboxlog())
            own = page.get_textpage(flags=TEXT_FLAGS)
            from_record = pymupdf.TextPage(recorded.get_textpage(flags=TEXT_FLAGS))
            from_record.parent = page
            assert _line_texts(page, from_record) == _line_texts(page, own)
            assert page.rotation == rotation  # read unrotated, and left as it was
            lines += len(_line_texts(page, own))
    assert lines > 0


@pytest.mark.models
@pytest.mark.parametrize("under_image", [False, True], ids=["invisible", "under-image"])
def test_an_earlier_ocr_layer_over_a_scan_is_read_again(local_converter: Any, under_image: bool) -> None:
    graph: DocumentGraph = local_converter.convert_sync(make_ocr_layer_scan_pdf(under_image=under_image))
    page = graph.pages[0]
    assert page.kind is PageKind.MIXED and "ocr" in page.route
    text = "\n".join(b.text for b in graph.blocks)
    assert WRONG_OCR_WORDS.split()[1] not in text  # "wrongly": the invisible layer's words are not the page's
    assert all(b.source is not Source.TEXT_LAYER for b in graph.blocks if b.text)
    truth = "\n".join(b.text for b in local_converter.convert_sync(make_sample_pdf(), ConvertOptions(pages="1")).blocks)
    assert similarity(text, truth) >= MIN_SIMILARITY
    said = [w.message for w in graph.warnings if w.page_no == 1]
    why = "hidden under the scan image" if under_image else "invisible text laid over a scan"
    assert any(why in m and m.endswith("read by OCR instead") for m in said), said


@pytest.mark.models
def test_with_ocr_never_the_untrusted_layer_is_kept_and_the_page_says_so(local_converter: Any) -> None:
    graph: DocumentGraph = local_converter.convert_sync(make_ocr_layer_scan_pdf(), ConvertOptions(ocr=OcrMode.NEVER))
    assert "wrongly" in "\n".join(b.text for b in graph.blocks)
    assert any(w.message.endswith("kept, as no OCR runs (ocr=never)") for w in graph.warnings)
