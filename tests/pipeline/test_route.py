"""The page plan: which models run, whose text the page keeps, and whether a failed render fails the page."""

from __future__ import annotations

import pytest

from pipeline import ConvertOptions, OcrMode, PageKind, Source
from pipeline.geometry import BBox
from pipeline.page import TextBlock, TextLine
from pipeline.route import plan_page, sideways_turns
from tests.layers import text_layer


@pytest.mark.parametrize(
    ("kind", "ocr", "has_ocr", "runs_ocr", "text_source"),
    [
        (PageKind.DIGITAL, OcrMode.AUTO, True, False, Source.TEXT_LAYER),
        (PageKind.DIGITAL, OcrMode.ALWAYS, True, True, Source.TEXT_LAYER),  # OCR is evidence only
        (PageKind.SCANNED, OcrMode.AUTO, True, True, Source.OCR),
        (PageKind.MIXED, OcrMode.AUTO, True, True, Source.OCR),
        (PageKind.SCANNED, OcrMode.NEVER, True, False, Source.TEXT_LAYER),
        (PageKind.SCANNED, OcrMode.AUTO, False, False, Source.TEXT_LAYER),  # no OCR model deployed
        (PageKind.EMPTY, OcrMode.ALWAYS, True, False, Source.TEXT_LAYER),
    ],
)
def test_plan_decides_the_text_source_once(
    kind: PageKind, ocr: OcrMode, has_ocr: bool, runs_ocr: bool, text_source: Source
) -> None:
    plan = plan_page(kind, ConvertOptions(ocr=ocr), has_layout=True, has_ocr=has_ocr)
    assert plan.ocr is runs_ocr and plan.text_source is text_source
    assert plan.layout is (kind is not PageKind.EMPTY) and plan.needs_image is (plan.layout or plan.ocr)
    assert plan.text_layer_usable is (kind in (PageKind.DIGITAL, PageKind.EMPTY))


def _lines(*lines: tuple[str, int]) -> tuple[TextBlock, ...]:
    box = BBox(l=0, t=0, r=10, b=10)
    return (TextBlock(bbox=box, lines=tuple(TextLine(bbox=box, text=t, vertical=v) for t, v in lines)),)


def test_the_turn_that_makes_a_page_read_along_comes_from_most_of_its_text() -> None:
    """Running down the page (a /Rotate 270 landscape page as stored): one counter-clockwise quarter turn; running
    up: three; along the page, or Chinese/Japanese in columns (upright as set): none."""
    assert sideways_turns(text_layer(blocks=_lines(("Quarterly figures by region", 1), ("Q1", 0)))) == 1
    assert sideways_turns(text_layer(blocks=_lines(("Quarterly figures by region", -1), ("Q1", 0)))) == 3
    assert sideways_turns(text_layer(blocks=_lines(("a short label", -1), ("the body of the page", 0)))) == 0
    assert sideways_turns(text_layer(blocks=_lines(("日本語の縦書き", 1), ("あいうえお", 1)))) == 0
    assert sideways_turns(text_layer(blocks=())) == 0
