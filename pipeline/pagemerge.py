"""Which merge a page's text goes through: the text layer's blocks with the layout regions (OCR, if any, as
evidence), OCR lines grouped with the layout regions, or a labelling OCR's own blocks matched to them
(``pipeline.merge``); every box in content-space points."""

from __future__ import annotations

from pipeline.graph import Source
from pipeline.merge import (
    TEXT_LAYER_MODEL,
    DraftBlock,
    OcrRegion,
    Region,
    attach_ocr_evidence,
    group_lines,
    merge_labelled_ocr,
    merge_page,
)
from pipeline.page import PageGeometry, PageImage, TextBlock, TextLine
from pipeline.protocols import OcrResult, PageAnalysis
from pipeline.route import SCAN_IMAGE_COVERAGE, PagePlan
from pipeline.ruledtables import RuledTables, fit_regions


def ocr_lines(image: PageImage | None, analysis: PageAnalysis) -> list[TextLine]:
    """What OCR read on the page, as content-space lines."""
    if image is None or analysis.ocr is None:
        return []
    return [
        TextLine(bbox=image.box_to_points(b.bbox), text=b.text, confidence=b.confidence)
        for b in analysis.ocr.blocks
        if b.text.strip()
    ]


def merge_analysis(
    layer_blocks: tuple[TextBlock, ...],
    ocr_lines: list[TextLine],
    image: PageImage | None,
    analysis: PageAnalysis,
    plan: PagePlan,
    geometry: PageGeometry,
    ruled: RuledTables | None = None,
) -> list[DraftBlock]:
    """``ruled``: the page's ruled tables, that its table regions are fitted to (``pipeline.ruledtables``)."""
    regions = None
    if image is not None and analysis.layout is not None:
        regions = [
            Region(
                type=r.type, label=r.label, bbox=image.box_to_points(r.bbox), score=r.score, model=analysis.layout.model
            )
            for r in analysis.layout.regions
        ]
        regions = fit_regions(regions, ruled or RuledTables())
    if image is not None and analysis.ocr is not None and plan.text_source is Source.OCR and _labelled(analysis.ocr):
        ocr = [
            OcrRegion(b.type, b.label, image.box_to_points(b.bbox), b.text, b.confidence, i)
            for i, b in enumerate(analysis.ocr.blocks)
        ]
        return merge_labelled_ocr(ocr, regions, model=analysis.ocr.model)
    if analysis.ocr is not None and plan.text_source is Source.OCR:
        # the scan itself is not a figure; smaller pictures placed on the page are
        page_area = geometry.width * geometry.height
        images = [b for b in layer_blocks if b.is_image and b.bbox.area < SCAN_IMAGE_COVERAGE * page_area]
        groups = group_lines(ocr_lines) + images
        return merge_page(groups, text_source=Source.OCR, text_model=analysis.ocr.model, regions=regions)
    # the text layer's text (also where OCR text was planned but OCR failed); OCR, if any, is evidence
    blocks = merge_page(
        list(layer_blocks),
        text_source=Source.TEXT_LAYER,
        text_model=TEXT_LAYER_MODEL,
        regions=regions,
        turns=plan.turns,
    )
    if analysis.ocr is not None:
        attach_ocr_evidence(blocks, ocr_lines, analysis.ocr.model)
    return blocks


def _labelled(ocr: OcrResult) -> bool:
    """OCR that typed and ordered its own blocks (DeepSeek-OCR's grounded output), not bare text lines."""
    return ocr.ordered and any(b.type is not None for b in ocr.blocks)
