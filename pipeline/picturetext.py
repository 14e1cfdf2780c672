"""Text in pictures (``plan.pictures``): OCR of a digital page's picture regions without text-layer text, as
crops of the page's image, each region's text joined to it (``pipeline.pictures`` chooses the regions)."""

from __future__ import annotations

import asyncio
import logging
import time

from pipeline.errors import PageError
from pipeline.graph import ErrorInfo, PageStatus
from pipeline.page import PageImage, TextLayer, TextLine
from pipeline.pagerun import PageRun
from pipeline.pictures import apply_picture_text, picture_regions
from pipeline.protocols import OcrRequest
from pipeline.route import PagePlan
from pipeline.steps import Step

log = logging.getLogger("docgraph.pipeline")


async def read_text_in_pictures(run: PageRun, image: PageImage, layer: TextLayer, plan: PagePlan) -> None:
    """OCR of a digital page's picture regions without text (crops of its image: the layout model's regions and
    the drawn images it did not cover; without the layout model, drawn images over a large share of the page),
    concurrently, within the page's bound; what is read joins each region. A failure makes the page partial (the
    rest came from the text layer)."""
    out, limits, options = run.out, run.limits, run.options
    bound = limits.pictures
    page_area = out.geometry.width * out.geometry.height if out.geometry is not None else 0.0
    min_area = 0.0 if plan.layout else bound.fast_path_min_share * page_area
    selection = picture_regions(out.blocks, layer.lines, bound, min_area=min_area)
    if not selection.regions:
        return
    run.start(Step.OCR)  # recorded before it can fail
    t0 = time.perf_counter()
    if plan.layout_sized:  # the page was drawn at the layout model's size: its pictures are read at dpi
        try:
            assert out.geometry is not None  # read with the text layer
            run.held.append(await run.doc.reserve_render(out.geometry, options.dpi))
            image, warning = await run.doc.render(out.page_no, options.dpi, geometry=out.geometry)
        except PageError as exc:
            log.warning("page %d: render for text in pictures failed: %s", out.page_no, exc)
            out.warnings.append(f"page {out.page_no}: text in pictures not read: {exc}")
            out.fail(Step.OCR, exc, fatal=False)
            return
        if warning:
            out.warnings.append(warning)
    if selection.skipped:
        out.warnings.append(
            f"page {out.page_no}: text in pictures read in the {len(selection.regions)} largest of "
            f"{len(selection.regions) + selection.skipped} picture regions (limits.pictures.max_regions)"
        )
    crops = [image.crop(region.bbox, bound.margin_pt) for region in selection.regions]
    request = OcrRequest(mode=options.deepseek_mode, prompt=options.ocr_prompt)
    analyses = await asyncio.gather(
        *(
            run.models.analyze(crop, layout=False, ocr=True, timeout_s=limits.model_timeout_s, ocr_request=request)
            for crop, _, _ in crops
        )
    )
    for region, (crop, dx, dy), read in zip(selection.regions, crops, analyses, strict=True):
        if read.ocr_error is not None or read.ocr is None:
            error = read.ocr_error or ErrorInfo(code="model_failed", message="no OCR result", step=Step.OCR)
            log.warning("page %d: OCR of a picture failed: %s", out.page_no, error.message)
            out.warnings.append(f"page {out.page_no}: text in a picture not read: {error.message}")
            out.error, out.status = out.error or error, PageStatus.PARTIAL
            continue
        lines = [
            TextLine(bbox=crop.box_to_points(b.bbox).shifted(dx, dy), text=b.text, confidence=b.confidence)
            for b in read.ocr.blocks
            if b.text.strip() and b.confidence >= bound.min_confidence
        ]
        apply_picture_text(out.blocks, region, lines, read.ocr.model)
    out.timings.ocr_s += time.perf_counter() - t0
