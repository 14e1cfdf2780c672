"""Text layers not to be trusted: a garbled one (unmapped glyphs) or an invisible one laid over a scan (an earlier
OCR) is not taken as the page's text; OCR reads the page, and the page says why (issue 15, third part)."""

from __future__ import annotations

from typing import Any

import pytest

from docgraph.samples import WRONG_OCR_WORDS, make_ocr_layer_scan_pdf, make_sample_pdf
from pipeline.graph import DocumentGraph, PageKind, Source
from pipeline.options import ConvertOptions, OcrMode
from pipeline.page import TextLayer
from pipeline.route import classify_page, untrusted_text_layer
from tests.textsim import similarity

MIN_SIMILARITY = 0.85  # measured 1.00 against the sample page's own text layer (2026-12-02); the invisible layer: 0.26


def layer(**values: Any) -> TextLayer:
    base: dict[str, Any] = {
        "blocks": (),
        "chars": 500,
        "invisible_text_ratio": 0.0,
        "image_coverage": 0.0,
        "vector_coverage": 0.0,
        "garbled_ratio": 0.0,
    }
    return TextLayer(**(base | values))


def test_why_a_text_layer_is_not_trusted() -> None:
    assert untrusted_text_layer(layer()) is None and classify_page(layer()) is PageKind.DIGITAL
    garbled = layer(garbled_ratio=0.42)
    assert "garbled: 42%" in (untrusted_text_layer(garbled) or "") and classify_page(garbled) is PageKind.MIXED
    over_scan = layer(image_coverage=0.98, invisible_text_ratio=1.0)
    assert "invisible text laid over a scan" in (untrusted_text_layer(over_scan) or "")
    assert classify_page(over_scan) is PageKind.MIXED
    assert untrusted_text_layer(layer(chars=3, image_coverage=1.0)) is None  # a plain scan: nothing to distrust
    assert untrusted_text_layer(layer(image_coverage=0.98, invisible_text_ratio=0.1)) is None  # a photo page


@pytest.mark.models
def test_an_earlier_ocr_layer_over_a_scan_is_read_again(local_converter: Any) -> None:
    graph: DocumentGraph = local_converter.convert_sync(make_ocr_layer_scan_pdf())
    page = graph.pages[0]
    assert page.kind is PageKind.MIXED and "ocr" in page.route
    text = "\n".join(b.text for b in graph.blocks)
    assert WRONG_OCR_WORDS.split()[1] not in text  # "wrongly": the invisible layer's words are not the page's
    assert all(b.source is not Source.TEXT_LAYER for b in graph.blocks if b.text)
    truth = "\n".join(b.text for b in local_converter.convert_sync(make_sample_pdf(), ConvertOptions(pages="1")).blocks)
    assert similarity(text, truth) >= MIN_SIMILARITY
    said = [w.message for w in graph.warnings if w.page_no == 1]
    assert any("invisible text laid over a scan" in m and m.endswith("read by OCR instead") for m in said), said


@pytest.mark.models
def test_with_ocr_never_the_untrusted_layer_is_kept_and_the_page_says_so(local_converter: Any) -> None:
    graph: DocumentGraph = local_converter.convert_sync(make_ocr_layer_scan_pdf(), ConvertOptions(ocr=OcrMode.NEVER))
    assert "wrongly" in "\n".join(b.text for b in graph.blocks)
    assert any(w.message.endswith("kept, as no OCR runs (ocr=never)") for w in graph.warnings)
