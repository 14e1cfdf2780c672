"""What the CPU default reads on the corpus's hard pages (issue 15): an archive scan whose bad OCR text lies under
the scan image, a scanned page shown upright by /Rotate beside a digital one, Arabic in four page rotations and
in presentation forms, and Japanese set in vertical columns (Arabic with a broken text layer against docling's
snapshot: ``test_corpus.py``). Thresholds are what
this version measured (2026-12-03), minus a margin; the truths of the first two are the project's own
transcriptions (``tests/corpus/truth/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.export import MarkdownSerializer
from pipeline.graph import BlockType, ContentLayer, DocumentGraph, PageKind, Source
from pipeline.options import ConvertOptions, OcrMode
from tests.invariants import assert_graph_invariants
from tests.textsim import similarity

pytestmark = [pytest.mark.corpus, pytest.mark.models]

TRUTH = Path(__file__).parent / "truth"


def convert(local_converter: Any, corpus: Path, name: str, **options: Any) -> DocumentGraph:
    graph: DocumentGraph = local_converter.convert_sync((corpus / name).read_bytes(), ConvertOptions(**options))
    assert_graph_invariants(graph)
    return graph


def body_text(graph: DocumentGraph, page_no: int | None = None) -> str:
    return "\n".join(
        b.text
        for b in graph.blocks
        if b.content_layer is ContentLayer.BODY and (page_no is None or b.page_no == page_no)
    )


# measured 0.950 (page read again by RapidOCR); its own text layer: 0.907 (0.853 before a text region the layout
# model cut out of the middle of another was given back to it, pipeline.regions)
HORRIBLE_OCR_MIN = 0.92
HORRIBLE_LAYER_MARGIN = 0.03  # OCR reads it at least this much better than its own text layer


def test_a_bad_ocr_layer_under_the_scan_image_is_read_again(local_converter: Any, corpus: Path) -> None:
    truth = (TRUTH / "horribleocr.txt").read_text()
    graph = convert(local_converter, corpus, "horribleocr.pdf")
    page = graph.pages[0]
    assert page.kind is PageKind.MIXED and "ocr" in page.route
    assert any("hidden under the scan image" in w.message for w in graph.warnings)
    assert all(b.source is not Source.TEXT_LAYER for b in graph.blocks if b.text)
    text = "\n".join(b.text for b in graph.blocks)
    assert similarity(text, truth) >= HORRIBLE_OCR_MIN
    kept = convert(local_converter, corpus, "horribleocr.pdf", ocr=OcrMode.NEVER)  # what trusting the layer gave
    assert similarity("\n".join(b.text for b in kept.blocks), truth) < similarity(text, truth) - HORRIBLE_LAYER_MARGIN


MIXED_SCAN_MIN = 0.93  # measured 0.973 (RapidOCR on the letter, turned upright: its /Rotate shows it upright)


def test_the_scanned_page_of_a_mixed_document_reads_as_displayed(local_converter: Any, corpus: Path) -> None:
    graph = convert(local_converter, corpus, "gen_mixed_digital_scanned.pdf")
    assert [p.kind for p in graph.pages] == [PageKind.DIGITAL, PageKind.SCANNED]
    truth = (TRUTH / "gen_mixed_digital_scanned.page2.txt").read_text()
    text = "\n".join(b.text for b in graph.blocks if b.page_no == 2)
    assert similarity(text, truth) >= MIXED_SCAN_MIN
    page = graph.pages[1]
    for block in (b for b in graph.blocks if b.page_no == 2):
        assert block.bbox.r <= page.width + 0.5 and block.bbox.b <= page.height + 0.5


ARABIC_LINE = "انواع الخطوط العربية"


def test_arabic_presentation_forms_read_in_logical_order(local_converter: Any, corpus: Path) -> None:
    """Four lines of the same words in four fonts, set in presentation forms and ligatures: each reads as the words
    (before: the lam-khah ligature came out in visual order, ``اخلطوط``)."""
    graph = convert(local_converter, corpus, "ArabicCIDTrueType.pdf")
    lines = [line for b in graph.blocks for line in b.text.split(ARABIC_LINE) if line.strip()]
    assert body_text(graph).count(ARABIC_LINE) == 4 and not lines, body_text(graph)


def test_arabic_on_pages_in_every_rotation_stays_in_the_body(local_converter: Any, corpus: Path) -> None:
    """habibi-rotated: one line per page (the word in Arabic and in Latin letters) on pages turned 90/180/270/0 by
    /Rotate; it is the page's body, not a running head (it repeats at the top of every page)."""
    graph = convert(local_converter, corpus, "habibi-rotated.pdf")
    assert [p.kind for p in graph.pages] == [PageKind.DIGITAL] * 4
    markdown = MarkdownSerializer().serialize(graph)
    assert markdown.count("habibi") == 4 and markdown.count("حَبيبي") >= 4
    for page in graph.pages:
        (block,) = [b for b in graph.blocks if b.page_no == page.page_no]
        assert block.type is BlockType.TEXT and block.content_layer is ContentLayer.BODY
        turned = page.rotation in (90, 270)  # the line runs down the page as displayed
        assert (block.bbox.height > block.bbox.width) == turned


def test_vertical_japanese_reads_column_by_column_from_the_right(local_converter: Any, corpus: Path) -> None:
    """vertical.pdf: two columns set top to bottom (あいうえお, then 日本語 to its left), one glyph a line in the text
    layer. Before: the page was taken for a scan (8 characters), and columns read left to right."""
    graph = convert(local_converter, corpus, "vertical.pdf", pages="1")
    assert graph.pages[0].kind is PageKind.DIGITAL
    assert body_text(graph) == "あいうえお日本語"
    assert all(b.source is Source.TEXT_LAYER for b in graph.blocks)
