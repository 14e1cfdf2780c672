"""The page driver: one page through its plan (``pipeline.route``), step by step, each step recorded on the page
before it can fail (``PageRun.start``): text layer, render, upright (``pipeline.upright``), the models, merge
(``pipeline.pagemerge``), text in pictures (``pipeline.picturetext``), words, tables (``pipeline.tablecells``)."""

from __future__ import annotations

import logging
import time

from pipeline.graph import BlockType, ErrorInfo, PageStatus, Source
from pipeline.options import ConvertOptions, Detail
from pipeline.outcome import PageOutcome
from pipeline.page import PageImage, TextLayer
from pipeline.pagemerge import merge_analysis, ocr_lines
from pipeline.pagerun import PageRun, render
from pipeline.pdfpool import DocumentHandle
from pipeline.picturetext import read_text_in_pictures
from pipeline.progress import ConvertProgress
from pipeline.protocols import OcrRequest, OcrResult, PageAnalysis, PageModels
from pipeline.route import PagePlan, classify_page, plan_for, untrusted_text_layer
from pipeline.steps import Step
from pipeline.tablecells import read_tables, ruled_tables
from pipeline.upright import upright

log = logging.getLogger("docgraph.pipeline")


async def convert_page(
    doc: DocumentHandle,
    page_no: int,
    *,
    models: PageModels,
    options: ConvertOptions,
    progress: ConvertProgress | None = None,
) -> PageOutcome:
    """One page through its plan; a rendered image's room in the replica's render budget is held until the
    page is done (its image is dropped with it)."""
    run = PageRun(doc, models, options, PageOutcome(page_no=page_no), progress)
    try:
        return await _convert_page(run)
    finally:
        run.release()


async def _convert_page(run: PageRun) -> PageOutcome:
    out, doc, models, options, limits = run.out, run.doc, run.models, run.options, run.limits
    try:
        run.start(Step.TEXT)
        t0 = time.perf_counter()
        out.geometry, layer = await doc.read_page(out.page_no)
        out.timings.text_s = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - any failure of this page is reported on this page
        log.warning("page %d: text layer failed: %s", out.page_no, exc)
        out.fail(Step.TEXT, exc, fatal=True)
        return out
    out.kind = classify_page(layer)
    plan = plan_for(
        out.kind,
        layer,
        out.geometry,
        options,
        limits,
        has_layout=models.has_layout,
        has_ocr=models.has_ocr,
        has_orientation=models.has_orientation,
    )
    _note_text_layer(out, layer, plan)

    analysis = PageAnalysis()
    image: PageImage | None = None
    if plan.needs_image:
        run.start(Step.RENDER)
        # read by the layout model alone (text in pictures, if any, is rendered again at dpi when a picture is to
        # be read): made at the size the model reads, not sent larger and resampled
        image = await render(run, plan, options.dpi, limits.layout_max_side if plan.layout_sized else None)
        if out.status is PageStatus.FAILED:
            return out
        if image is not None and plan.turns and plan.layout_sized:
            image = image.turned(plan.turns)  # the layout model reads the page's text upright
    if image is not None and plan.orient:
        image, layer = await upright(run, image, layer)
    if image is not None and (plan.layout or plan.ocr):
        run.start(*(step for step, on in ((Step.LAYOUT, plan.layout), (Step.OCR, plan.ocr)) if on))
        analysis = await _analyze(run, image, plan)

    ruled = await ruled_tables(run, analysis, plan)  # the layout's table regions fitted to the page's rules
    run.start(Step.MERGE)
    t0 = time.perf_counter()
    read = ocr_lines(image, analysis)
    out.blocks = merge_analysis(layer.blocks, read, image, analysis, plan, out.geometry, ruled)
    out.timings.merge_s = time.perf_counter() - t0
    if image is not None and plan.pictures:
        await read_text_in_pictures(run, image, layer, plan)
    await _detail(doc, out, options.detail, digital=plan.text_source is Source.TEXT_LAYER)
    tables = [b for b in out.blocks if b.type is BlockType.TABLE and b.table is None]
    if tables:
        if Step.TABLES not in out.route:  # recorded already where the page's ruled tables were read
            run.start(Step.TABLES)
        out.timings.tables_s += await read_tables(run, tables, layer, read, plan, ruled)
    if plan.text_source is Source.OCR and analysis.ocr is None and analysis.layout is None:
        out.status = PageStatus.FAILED  # a scan with neither text nor regions: nothing was converted
    return out


async def _analyze(run: PageRun, image: PageImage, plan: PagePlan) -> PageAnalysis:
    """The page's model calls; their failures make the page partial (the text layer may still carry it)."""
    out, options = run.out, run.options
    ocr_request = OcrRequest(mode=options.deepseek_mode, prompt=options.ocr_prompt)
    analysis = await run.models.analyze(
        image, layout=plan.layout, ocr=plan.ocr, timeout_s=run.limits.model_timeout_s, ocr_request=ocr_request
    )
    out.timings.layout_s, out.timings.ocr_s = analysis.layout_s, analysis.ocr_s
    out.attempts = {step: n for step, n in analysis.attempts.items() if n > 1}
    for error in (analysis.layout_error, analysis.ocr_error):
        if error is not None:
            log.warning("page %d: %s failed: %s", out.page_no, error.step, error.message)
            out.error, out.status = error, PageStatus.PARTIAL
    if analysis.ocr is not None:
        _note_ocr_quality(out, analysis.ocr, plan)
    return analysis


def _note_text_layer(out: PageOutcome, layer: TextLayer, plan: PagePlan) -> None:
    """What the page says of its text layer: over the primitive cap (partial), or not taken as its text (why,
    and what was done instead)."""
    _note_degraded(out, layer)
    reason = untrusted_text_layer(layer)
    if reason is not None:
        done = "read by OCR instead" if plan.text_source is Source.OCR else "kept, as no OCR runs (ocr=never)"
        out.warnings.append(f"page {out.page_no}: {reason}; {done}")


def _note_degraded(out: PageOutcome, layer: TextLayer) -> None:
    """Over the primitive cap: what was read is kept, and the page says it is not all of it."""
    if layer.warnings:
        out.warnings.extend(layer.warnings)
        out.status = PageStatus.PARTIAL
        out.error = ErrorInfo(code="page_too_complex", message=layer.warnings[0], step=Step.TEXT)


def _note_ocr_quality(out: PageOutcome, ocr: OcrResult, plan: PagePlan) -> None:
    """A looping/cut-off generation is never passed off as complete: warning always, ``partial`` where the
    OCR text is the page's text."""
    if ocr.truncated:
        message = (
            f"OCR output hit the token limit or looped in {ocr.attempts} attempt(s) (last mode: {ocr.mode}); "
            "the page's OCR text may be incomplete"
        )
        out.warnings.append(message)
        if plan.text_source is Source.OCR:
            out.status = PageStatus.PARTIAL
            out.error = out.error or ErrorInfo(code="ocr_truncated", message=message, step=Step.OCR)
    elif ocr.attempts > 1:
        out.warnings.append(f"OCR output looped once; the page was read again in {ocr.mode} mode")
    if ocr.issues:
        out.warnings.append(f"OCR output had {len(ocr.issues)} malformed part(s): {'; '.join(ocr.issues[:3])}")


async def _detail(doc: DocumentHandle, out: PageOutcome, detail: Detail, *, digital: bool) -> None:
    """Lines stay on the blocks only when asked for; words are read (text-layer pages) only when asked for,
    each given to the block its centre lies in."""
    if detail is Detail.NONE:
        for block in out.blocks:
            block.lines = []
        return
    if detail is not Detail.WORDS or not digital:
        return
    try:
        words = await doc.words(out.page_no)
    except Exception as exc:  # noqa: BLE001 - recorded on the page; its blocks stay without words
        out.warnings.append(f"page {out.page_no}: words not read: {exc}")
        return
    for word in words:
        owner = next((b for b in out.blocks if b.bbox.holds_centre_of(word.bbox)), None)
        if owner is not None:
            owner.words.append(word)
