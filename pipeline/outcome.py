"""What converting one page produced: the value ``convert`` fills, ``build`` assembles and progress hooks receive."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.errors import DocgraphError
from pipeline.graph import ErrorInfo, PageKind, PageOrientation, PageStatus, StepTimings
from pipeline.merge import DraftBlock
from pipeline.page import PageGeometry
from pipeline.steps import Step


@dataclass(slots=True)
class PageOutcome:
    page_no: int
    geometry: PageGeometry | None = None
    kind: PageKind | None = None
    route: list[Step] = field(default_factory=list)
    status: PageStatus = PageStatus.OK
    error: ErrorInfo | None = None
    blocks: list[DraftBlock] = field(default_factory=list)  # content space; build maps them to display space
    timings: StepTimings = field(default_factory=StepTimings)
    warnings: list[str] = field(default_factory=list)
    attempts: dict[Step, int] = field(default_factory=dict)  # model calls per step, where a retry was needed
    orientation: PageOrientation | None = None

    def fail(self, step: Step, exc: BaseException, *, fatal: bool) -> None:
        code = exc.code if isinstance(exc, DocgraphError) else "internal_error"
        self.error = ErrorInfo(code=code, message=str(exc) or type(exc).__name__, step=step)
        self.status = PageStatus.FAILED if fatal else PageStatus.PARTIAL
