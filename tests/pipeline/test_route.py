"""The page plan: which models run, whose text the page keeps, and whether a failed render fails the page."""

from __future__ import annotations

import pytest

from pipeline import ConvertOptions, OcrMode, PageKind, Source
from pipeline.route import plan_page


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
