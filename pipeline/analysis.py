"""Run the layout and OCR calls for one page concurrently, each with a deadline, errors kept as data.

Shared by every ``PageModels`` implementation (in-process backends, Serve handles) so that timeouts and
error reporting behave the same wherever the models run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pipeline.errors import DocgraphError
from pipeline.graph import ErrorInfo
from pipeline.page import PageImage
from pipeline.protocols import LayoutResult, OcrResult, PageAnalysis
from pipeline.steps import Step

log = logging.getLogger("docgraph.pipeline")
T = TypeVar("T")


async def analyze_page(
    *,
    layout: Callable[[], Awaitable[LayoutResult]] | None,
    ocr: Callable[[], Awaitable[OcrResult]] | None,
    timeout_s: float,
) -> PageAnalysis:
    async def timed(step: Step, call: Callable[[], Awaitable[T]]) -> tuple[T | None, ErrorInfo | None, float]:
        t0 = time.perf_counter()
        try:
            return await asyncio.wait_for(call(), timeout_s), None, time.perf_counter() - t0
        except TimeoutError:
            error = ErrorInfo(code="step_timeout", message=f"{step} took longer than {timeout_s:g} s", step=step)
        except Exception as exc:
            log.exception("%s call failed", step)
            code = exc.code if isinstance(exc, DocgraphError) else "model_failed"
            error = ErrorInfo(code=code, message=f"{type(exc).__name__}: {_short(exc)}", step=step)
        return None, error, time.perf_counter() - t0

    async def skipped() -> tuple[None, None, float]:
        return None, None, 0.0

    (lay, lay_err, lay_s), (text, ocr_err, ocr_s) = await asyncio.gather(
        timed(Step.LAYOUT, layout) if layout else skipped(),
        timed(Step.OCR, ocr) if ocr else skipped(),
    )
    return PageAnalysis(layout=lay, ocr=text, layout_error=lay_err, ocr_error=ocr_err, layout_s=lay_s, ocr_s=ocr_s)


async def detect_fitted(
    image: PageImage, max_side: int, detect: Callable[[PageImage], Awaitable[LayoutResult]]
) -> LayoutResult:
    """Run the layout model on ``image`` scaled down to ``max_side`` (the size it needs, not a 600-dpi page's
    100 MB), with its boxes scaled back to ``image``'s pixels."""
    small = image.fitted(max_side)
    result = await detect(small)
    return result if small is image else result.scaled(image.width / small.width, image.height / small.height)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()
    line = text[-1] if text else ""
    return line[:limit]
