"""The conversion of a document: every page concurrently through its plan (``pipeline.pagedriver``), then the
graph, and the annotated pages when asked for.

The same coroutine runs in-process (CLI ``--local``, benchmarks, tests) and in the Serve ingress; only the
``PageModels`` it is given differ. Pages run concurrently up to ``Limits.pages_in_flight`` (which bounds how
many rendered images exist at once); each page records a step in its ``route`` before the step can fail,
and a failure becomes that page's status and error, never a silent gap.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from pipeline.build import build_graph
from pipeline.errors import DocumentTimeoutError, TooManyPagesError, UnusableDocumentError
from pipeline.export.annotate import AnnotatedPageRenderer
from pipeline.export.figures import crop_figures
from pipeline.graph import DocumentGraph, PageStatus
from pipeline.options import ConvertOptions, Limits, parse_page_range
from pipeline.outcome import PageOutcome
from pipeline.pagedriver import convert_page
from pipeline.pdfpool import DocumentHandle, PdfPool
from pipeline.progress import ConvertProgress
from pipeline.protocols import PageModels
from pipeline.steps import Step

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


@dataclass(slots=True, repr=False)
class Conversion:
    graph: DocumentGraph
    annotated: dict[int, bytes] = field(default_factory=dict)  # page_no → annotated PNG
    figures: dict[str, bytes] = field(default_factory=dict)  # bundle path → figure crop (PNG)

    def __repr__(self) -> str:
        """A line, not the graph and its images: Python 3.11's ``asyncio.run`` writes the repr of the task's
        result when it restores its SIGINT handler (an enum ``ValueError`` message), and so did every log line
        or traceback that showed a conversion (~0.16 s for a 117-page graph, more with annotated pages)."""
        graph = self.graph
        return (
            f"Conversion({graph.status.value}, {len(graph.pages)} pages, {len(graph.blocks)} blocks, "
            f"{len(self.annotated)} annotated, {len(self.figures)} figures)"
        )


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
