"""One page's conversion under way (``PageRun``): what each step of it reads (the document, the models, the
options) and where it records what happened (the page's outcome, the steps it started, the render budget it holds).
The page driver is ``pipeline.pagedriver``; each step is a module of its own and takes the run."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from pipeline.errors import PageError
from pipeline.options import ConvertOptions, Limits
from pipeline.outcome import PageOutcome
from pipeline.page import PageImage
from pipeline.pdfpool import DocumentHandle
from pipeline.progress import ConvertProgress
from pipeline.protocols import PageModels
from pipeline.renderbudget import Reservation
from pipeline.route import PagePlan
from pipeline.steps import Step

log = logging.getLogger("docgraph.pipeline")


@dataclass(slots=True)
class PageRun:
    doc: DocumentHandle
    models: PageModels
    options: ConvertOptions
    out: PageOutcome
    progress: ConvertProgress | None = None
    held: list[Reservation] = field(default_factory=list)  # render budget held until the page is done

    @property
    def limits(self) -> Limits:
        return self.doc.limits

    @property
    def page_no(self) -> int:
        return self.out.page_no

    def start(self, *steps: Step) -> None:
        """Record steps on the page (and report them) before they can fail."""
        self.out.route.extend(steps)
        if self.progress is not None:
            for step in steps:
                self.progress.step(self.page_no, step)

    def release(self) -> None:
        """The page is done: its images' room in the render budget goes back."""
        for reservation in self.held:
            reservation.release()
        self.held.clear()


async def render(run: PageRun, plan: PagePlan, dpi: int, side: int | None) -> PageImage | None:
    """The page's image at ``dpi`` (no larger than ``side`` pixels on its longer side when given), its room in the
    render budget held by the run; None when the render failed (recorded on the page: fatal where the text layer
    cannot carry it)."""
    out = run.out
    t0 = time.perf_counter()
    image: PageImage | None = None
    try:
        assert out.geometry is not None  # read with the text layer
        run.held.append(await run.doc.reserve_render(out.geometry, dpi, side))
        image, warning = await run.doc.render(out.page_no, dpi, side, geometry=out.geometry)
        if warning:
            out.warnings.append(warning)
    except PageError as exc:
        log.warning("page %d: render failed: %s", out.page_no, exc)
        out.fail(Step.RENDER, exc, fatal=not plan.text_layer_usable)
    out.timings.render_s += time.perf_counter() - t0
    return image
