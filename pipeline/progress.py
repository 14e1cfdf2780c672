"""Progress hooks of a conversion: what an async job records as its pages move through the steps.

The pipeline calls these synchronously, on the event loop, *before* a step starts (so a step that fails has
already been recorded as started) and once a page has its outcome. Implementations must be cheap and must not
raise: the job runner keeps them in memory and writes them to its store on its own schedule.
"""

from __future__ import annotations

from typing import Protocol

from pipeline.outcome import PageOutcome
from pipeline.pdf import DocumentMeta
from pipeline.steps import Step


class ConvertProgress(Protocol):
    def opened(self, meta: DocumentMeta, page_nos: list[int]) -> None:
        """The document opened and these pages will be converted."""

    def step(self, page_no: int, step: Step) -> None:
        """``step`` (text, render, layout, ocr, merge) of ``page_no`` is about to start."""

    def page_done(self, outcome: PageOutcome) -> None:
        """Page ``outcome.page_no`` has its outcome (ok, partial or failed, with the reason)."""
