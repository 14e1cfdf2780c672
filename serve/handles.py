"""``PageModels`` over DeploymentHandles: how the ingress reaches the model deployments.

A page image needed by both models is put in the object store once and both calls get the reference
(Ray resolves a top-level ObjectRef argument in the replica), so the image crosses process boundaries once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray
from ray.serve.handle import DeploymentHandle, DeploymentResponse

from pipeline.analysis import analyze_page
from pipeline.page import PageImage
from pipeline.protocols import LayoutResult, OcrRequest, OcrResult, PageAnalysis


class HandleModels:
    def __init__(self, layout: DeploymentHandle | None, ocr: DeploymentHandle | None) -> None:
        self._layout = layout
        self._ocr = ocr

    @property
    def has_layout(self) -> bool:
        return self._layout is not None

    @property
    def has_ocr(self) -> bool:
        return self._ocr is not None

    async def analyze(
        self, image: PageImage, *, layout: bool, ocr: bool, timeout_s: float, ocr_request: OcrRequest
    ) -> PageAnalysis:
        want_layout = layout and self._layout is not None
        want_ocr = ocr and self._ocr is not None
        arg: Any = ray.put(image) if want_layout and want_ocr else image
        layout_handle, ocr_handle = self._layout, self._ocr

        async def run_layout() -> LayoutResult:
            assert layout_handle is not None
            result: LayoutResult = await _cancel_on_exit(layout_handle.detect.remote(arg))
            return result

        async def run_ocr() -> OcrResult:
            assert ocr_handle is not None
            result: OcrResult = await _cancel_on_exit(ocr_handle.recognize.remote(arg, ocr_request))
            return result

        return await analyze_page(
            layout=run_layout if want_layout else None, ocr=run_ocr if want_ocr else None, timeout_s=timeout_s
        )


async def _cancel_on_exit(response: DeploymentResponse) -> Any:
    """Await a model call; if the caller gives up (timeout, client gone), the call is cancelled too."""
    try:
        return await response
    except asyncio.CancelledError:
        response.cancel()
        raise
