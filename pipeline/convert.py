"""The conversion itself: every page of a document concurrently through text layer, models and merge.

The same coroutine runs in-process (CLI ``--local``, benchmarks, tests) and in the Serve ingress; only the
``PageModels`` it is given differ. Pages run concurrently up to ``Limits.pages_in_flight`` (which bounds how
many rendered images exist at once); each page records a step in its ``route`` before the step can fail,
and a failure becomes that page's status and error, never a silent gap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from pipeline.build import build_graph
from pipeline.errors import (
    DocumentTimeoutError,
    PageError,
    TooManyPagesError,
    UnusableDocumentError,
)
from pipeline.export.annotate import AnnotatedPageRenderer
from pipeline.export.figures import crop_figures
from pipeline.graph import BlockType, DocumentGraph, ErrorInfo, PageKind, PageOrientation, PageStatus, Source
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
from pipeline.options import ConvertOptions, Detail, Limits, parse_page_range
from pipeline.outcome import PageOutcome
from pipeline.page import PageGeometry, PageImage, TextBlock, TextLayer, TextLine
from pipeline.pdfpool import DocumentHandle, PdfPool
from pipeline.pictures import apply_picture_text, large_pictures, picture_regions
from pipeline.progress import ConvertProgress
from pipeline.protocols import OcrRequest, OcrResult, PageAnalysis, PageModels
from pipeline.renderbudget import Reservation
from pipeline.route import SCAN_IMAGE_COVERAGE, PagePlan, classify_page, plan_page, untrusted_text_layer
from pipeline.steps import Step
from pipeline.tables import TableGrid, grid_from_html, grid_from_lines

log = logging.getLogger("docgraph.pipeline")


async def convert_document(
    doc: DocumentHandle,
    *,
    models: PageModels,
    options: ConvertOptions,
    filename: str | None = None,
    progress: ConvertProgress | None = None,
) -> DocumentGraph:
    """Convert the asked-for pages of an opened document into a ``DocumentGraph``.

    Raises:
        InvalidOptionsError: the page range does not fit the document.
        DocumentTimeoutError: no page finished before the document deadline.
        UnusableDocumentError: every page failed (the graph would hold nothing).
    """
    page_nos = parse_page_range(options.pages, doc.page_count)
    if progress is not None:
        progress.opened(doc.meta, page_nos)
    gate = asyncio.Semaphore(doc.limits.pages_in_flight)

    async def one(page_no: int) -> PageOutcome:
        async with gate:
            outcome = await convert_page(doc, page_no, models=models, options=options, progress=progress)
        if progress is not None:
            progress.page_done(outcome)
        return outcome

    tasks = {page_no: asyncio.ensure_future(one(page_no)) for page_no in page_nos}
    try:
        _, pending = await asyncio.wait(tasks.values(), timeout=doc.limits.document_timeout_s)
    except asyncio.CancelledError:  # the caller gave up (client gone, job cancelled): so do the pages
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        raise
    for task in pending:
        task.cancel()
    outcomes: list[PageOutcome] = []
    for page_no, task in tasks.items():
        if task in pending or task.cancelled():
            outcome = PageOutcome(page_no=page_no)
            outcome.fail(Step.DOCUMENT, DocumentTimeoutError("the document deadline passed first"), fatal=True)
            outcomes.append(outcome)
            if progress is not None:
                progress.page_done(outcome)
        else:
            outcomes.append(task.result())
    if pending and len(pending) == len(tasks):
        raise DocumentTimeoutError(f"no page finished within {doc.limits.document_timeout_s:g} s")
    if all(o.status is PageStatus.FAILED for o in outcomes):
        reasons = "; ".join(f"page {o.page_no}: {o.error.message}" for o in outcomes[:5] if o.error)
        raise UnusableDocumentError(f"no page could be converted ({reasons})", code="no_page_converted")
    return build_graph(doc.meta, outcomes, filename=filename)


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
    held: list[Reservation] = []
    try:
        return await _convert_page(doc, page_no, held, models=models, options=options, progress=progress)
    finally:
        for reservation in held:
            reservation.release()


async def _convert_page(
    doc: DocumentHandle,
    page_no: int,
    held: list[Reservation],
    *,
    models: PageModels,
    options: ConvertOptions,
    progress: ConvertProgress | None = None,
) -> PageOutcome:
    out = PageOutcome(page_no=page_no)
    limits = doc.limits

    def start(*steps: Step) -> None:  # recorded before the step can fail
        out.route.extend(steps)
        if progress is not None:
            for step in steps:
                progress.step(page_no, step)

    try:
        start(Step.TEXT)
        t0 = time.perf_counter()
        out.geometry, layer = await doc.read_page(page_no)
        out.timings.text_s = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - any failure of this page is reported on this page
        log.warning("page %d: text layer failed: %s", page_no, exc)
        out.fail(Step.TEXT, exc, fatal=True)
        return out
    out.kind = classify_page(layer)
    plan = _plan(out.kind, layer, out.geometry, options, models, limits)
    _note_text_layer(out, layer, plan)

    analysis = PageAnalysis()
    image: PageImage | None = None
    if plan.needs_image:
        start(Step.RENDER)
        # read by the layout model alone (text in pictures, if any, is rendered again at dpi when a picture is to
        # be read): drawn at the size the model reads, not drawn larger and resampled
        side = limits.layout_max_side if _layout_sized(plan) else None
        image = await _render(doc, out, plan, options.dpi, held, side)
        if out.status is PageStatus.FAILED:
            return out
    if image is not None and out.kind is PageKind.SCANNED and plan.ocr and models.has_orientation:
        image, layer = await _upright(models, image, layer, limits, out, start)
    if image is not None and (plan.layout or plan.ocr):
        start(*(step for step, on in ((Step.LAYOUT, plan.layout), (Step.OCR, plan.ocr)) if on))
        analysis = await _analyze(models, image, plan, options, limits, out)

    start(Step.MERGE)
    t0 = time.perf_counter()
    ocr_lines = _ocr_lines(image, analysis)
    out.blocks = _merge(layer.blocks, ocr_lines, image, analysis, plan, out.geometry)
    out.timings.merge_s = time.perf_counter() - t0
    if image is not None and plan.pictures:
        await _text_in_pictures(models, doc, held, image, layer, plan, options, out, start)
    await _detail(doc, out, options.detail, digital=plan.text_source is Source.TEXT_LAYER)
    tables = [b for b in out.blocks if b.type is BlockType.TABLE and b.table is None]
    if tables:
        start(Step.TABLES)
        out.timings.tables_s = await _read_tables(doc, out, tables, layer, ocr_lines, plan)
    if plan.text_source is Source.OCR and analysis.ocr is None and analysis.layout is None:
        out.status = PageStatus.FAILED  # a scan with neither text nor regions: nothing was converted
    return out


def _layout_sized(plan: PagePlan) -> bool:
    """The page's image is rendered at the layout model's size (``limits.layout_max_side``): no OCR reads it."""
    return plan.layout and not plan.ocr


async def _render(
    doc: DocumentHandle, out: PageOutcome, plan: PagePlan, dpi: int, held: list[Reservation], side: int | None
) -> PageImage | None:
    """The page's image at ``dpi`` (no larger than ``side`` pixels on its longer side when given), its room in the
    render budget held in ``held``; None when the render failed (recorded on the page: fatal where the text layer
    cannot carry it)."""
    t0 = time.perf_counter()
    image: PageImage | None = None
    try:
        assert out.geometry is not None  # read with the text layer
        held.append(await doc.reserve_render(out.geometry, dpi, side))
        image, warning = await doc.render(out.page_no, dpi, side)
        if warning:
            out.warnings.append(warning)
    except PageError as exc:
        log.warning("page %d: render failed: %s", out.page_no, exc)
        out.fail(Step.RENDER, exc, fatal=not plan.text_layer_usable)
    out.timings.render_s += time.perf_counter() - t0
    return image


def _plan(
    kind: PageKind,
    layer: TextLayer,
    geometry: PageGeometry,
    options: ConvertOptions,
    models: PageModels,
    limits: Limits,
) -> PagePlan:
    """The page's plan; without the layout model, whether a drawn image over a large share of it asks for a render
    to read the picture."""
    large = not options.layout and large_pictures(layer, geometry.width * geometry.height, limits.pictures)
    return plan_page(kind, options, has_layout=models.has_layout, has_ocr=models.has_ocr, large_pictures=large)


@dataclass(slots=True)
class Conversion:
    graph: DocumentGraph
    annotated: dict[int, bytes] = field(default_factory=dict)  # page_no → annotated PNG
    figures: dict[str, bytes] = field(default_factory=dict)  # bundle path → figure crop (PNG)


async def convert_bytes(
    data: bytes,
    *,
    pool: PdfPool,
    models: PageModels,
    options: ConvertOptions,
    limits: Limits,
    filename: str | None = None,
    annotate: bool = False,
    progress: ConvertProgress | None = None,
    max_pages: int | None = None,
) -> Conversion:
    """Open, convert and (optionally) draw the annotated pages of one upload; the document is always closed.

    ``max_pages`` bounds the pages this call may convert (the sync endpoint's limit): more raises
    ``TooManyPagesError`` before any page is converted.
    """
    doc = await pool.open(data, limits=limits, password=options.password)
    try:
        if max_pages is not None:
            selected = len(parse_page_range(options.pages, doc.page_count))
            if selected > max_pages:
                raise TooManyPagesError(
                    f"{selected} pages is more than the {max_pages} that a synchronous conversion takes; "
                    "submit it as a job: POST /v1/jobs (same form fields), then GET /v1/jobs/{id}",
                    pages=selected,
                    limit=max_pages,
                )
        graph = await convert_document(doc, models=models, options=options, filename=filename, progress=progress)
        result = Conversion(graph=graph)
        if annotate:
            renderer = AnnotatedPageRenderer()
            for page in graph.pages:
                if page.status is PageStatus.FAILED:
                    continue
                png, zoom = await doc.render_display_png(page.page_no, min(options.dpi, 144))
                result.figures |= crop_figures(graph, page.page_no, png, zoom)
                result.annotated[page.page_no] = renderer.render(graph, page.page_no, png, zoom)
        return result
    finally:
        doc.close()  # never fails, never waits: a cleanup cannot replace the result


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


ORIENT_MAX_SIDE = 1024


async def _upright(
    models: PageModels,
    image: PageImage,
    layer: TextLayer,
    limits: Limits,
    out: PageOutcome,
    start: Callable[[Step], None],
) -> tuple[PageImage, TextLayer]:
    """A scan turned upright: its image, and the page's content space from here on (``out.geometry``: build maps
    it to display space, so every box lands where the page shows it). A sideways scan's text layer, if it has
    one, is not in that space: it is left out."""
    start(Step.ORIENT)  # recorded before it can fail
    turns = await _orient(models, image, limits, out)
    if not turns or out.geometry is None:
        return image, layer
    out.geometry = out.geometry.upright(turns)
    return image.rotated(turns), replace(layer, blocks=())


async def _orient(models: PageModels, image: PageImage, limits: Limits, out: PageOutcome) -> int:
    """Quarter turns (counter-clockwise) that make the scan upright; 0 when it is, or when the classifier is unsure
    or failed (the page goes on as it is, with a warning)."""
    t0 = time.perf_counter()
    try:
        # the classifier looks at a 256-px view: a 1024-px image is plenty, and crosses to its replica cheaply
        found = await models.orient(image.fitted(ORIENT_MAX_SIDE), timeout_s=min(limits.model_timeout_s, 30.0))
    except Exception as exc:  # noqa: BLE001 - an orientation failure leaves the page as it is, and says so
        log.warning("page %d: orientation failed: %s", out.page_no, exc)
        out.warnings.append(f"page {out.page_no}: orientation not detected: {type(exc).__name__}: {exc}")
        return 0
    finally:
        out.timings.orient_s = time.perf_counter() - t0
    turned = found.angle % 360  # in content space: the page unrotated by its /Rotate, as it was rendered
    applied = turned != 0 and found.sure
    rotation = out.geometry.rotation if out.geometry is not None else 0
    out.orientation = PageOrientation(
        angle=(turned + rotation) % 360,  # as the page is displayed
        confidence=round(found.confidence, 4),
        model=found.model,
        applied=applied,
    )
    return turned // 90 if applied else 0


async def _analyze(
    models: PageModels, image: PageImage, plan: PagePlan, options: ConvertOptions, limits: Limits, out: PageOutcome
) -> PageAnalysis:
    """The page's model calls; their failures make the page partial (the text layer may still carry it)."""
    ocr_request = OcrRequest(mode=options.deepseek_mode, prompt=options.ocr_prompt)
    analysis = await models.analyze(
        image, layout=plan.layout, ocr=plan.ocr, timeout_s=limits.model_timeout_s, ocr_request=ocr_request
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


async def _text_in_pictures(
    models: PageModels,
    doc: DocumentHandle,
    held: list[Reservation],
    image: PageImage,
    layer: TextLayer,
    plan: PagePlan,
    options: ConvertOptions,
    out: PageOutcome,
    start: Callable[[Step], None],
) -> None:
    """OCR of a digital page's picture regions without text (crops of its image: the layout model's regions and
    the drawn images it did not cover; without the layout model, drawn images over a large share of the page),
    concurrently, within the page's bound; what is read joins each region. A failure makes the page partial (the
    rest came from the text layer)."""
    limits = doc.limits
    bound = limits.pictures
    page_area = out.geometry.width * out.geometry.height if out.geometry is not None else 0.0
    min_area = 0.0 if plan.layout else bound.fast_path_min_share * page_area
    selection = picture_regions(out.blocks, layer.lines, bound, min_area=min_area)
    if not selection.regions:
        return
    start(Step.OCR)  # recorded before it can fail
    t0 = time.perf_counter()
    if _layout_sized(plan):  # the page was drawn at the layout model's size: its pictures are read at dpi
        try:
            assert out.geometry is not None  # read with the text layer
            held.append(await doc.reserve_render(out.geometry, options.dpi))
            image, warning = await doc.render(out.page_no, options.dpi)
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
            models.analyze(crop, layout=False, ocr=True, timeout_s=limits.model_timeout_s, ocr_request=request)
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


async def _read_tables(
    doc: DocumentHandle,
    out: PageOutcome,
    tables: list[DraftBlock],
    layer: TextLayer,
    ocr_lines: list[TextLine],
    plan: PagePlan,
) -> float:
    """Cells for each table block: ``find_tables`` in the region on a digital page, else (or where it finds
    nothing) the region's text (text-layer or OCR lines) clustered into rows and columns. A failure leaves the
    table's text as it was and makes the page partial. Returns the seconds it took."""
    t0 = time.perf_counter()
    digital = plan.text_source is Source.TEXT_LAYER
    lines = layer.lines if digital else ocr_lines
    grids: list[TableGrid | None] = [None] * len(tables)
    if digital:
        try:
            grids = await doc.tables(out.page_no, [b.bbox for b in tables])
        except Exception as exc:  # noqa: BLE001 - recorded on the page; its text stays as merged
            log.warning("page %d: table structure failed: %s", out.page_no, exc)
            out.warnings.append(f"page {out.page_no}: table structure not read: {exc}")
            if out.error is None:
                out.fail(Step.TABLES, exc, fatal=False)
    for block, found in zip(tables, grids, strict=True):
        grid = found
        if grid is None and "<table" in block.text.lower():  # a model's HTML table (DeepSeek-OCR)
            grid = grid_from_html(block.text, block.bbox)
        if grid is None:
            inside = [ln for ln in lines if block.bbox.intersection(ln.bbox) >= 0.5 * max(ln.bbox.area, 1e-6)]
            grid = grid_from_lines(inside)
        if grid is not None:
            block.table = grid
            block.text = grid.text()
            block.bbox = block.bbox.union(grid.bbox)  # the table is where its cells are
    return time.perf_counter() - t0


def _ocr_lines(image: PageImage | None, analysis: PageAnalysis) -> list[TextLine]:
    """What OCR read on the page, as content-space lines."""
    if image is None or analysis.ocr is None:
        return []
    return [
        TextLine(bbox=image.box_to_points(b.bbox), text=b.text, confidence=b.confidence)
        for b in analysis.ocr.blocks
        if b.text.strip()
    ]


def _merge(
    layer_blocks: tuple[TextBlock, ...],
    ocr_lines: list[TextLine],
    image: PageImage | None,
    analysis: PageAnalysis,
    plan: PagePlan,
    geometry: PageGeometry,
) -> list[DraftBlock]:
    regions = None
    if image is not None and analysis.layout is not None:
        regions = [
            Region(
                type=r.type, label=r.label, bbox=image.box_to_points(r.bbox), score=r.score, model=analysis.layout.model
            )
            for r in analysis.layout.regions
        ]
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
    blocks = merge_page(list(layer_blocks), text_source=Source.TEXT_LAYER, text_model=TEXT_LAYER_MODEL, regions=regions)
    if analysis.ocr is not None:
        attach_ocr_evidence(blocks, ocr_lines, analysis.ocr.model)
    return blocks


def _labelled(ocr: OcrResult) -> bool:
    """OCR that typed and ordered its own blocks (DeepSeek-OCR's grounded output), not bare text lines."""
    return ocr.ordered and any(b.type is not None for b in ocr.blocks)
