"""``PageModels`` over DeploymentHandles: how the ingress reaches the model deployments.

A page image needed by both models is put in the object store once and both calls get the reference
(Ray resolves a top-level ObjectRef argument in the replica), so the image crosses process boundaries once.
Model calls are idempotent: when the replica serving one dies, the call is sent again (Serve routes it to a
live replica), at most ``retries`` more times and within the page's model deadline; the page records how many
calls it took.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError
from ray.serve.handle import DeploymentHandle, DeploymentResponse

from pipeline.analysis import analyze_page, detect_fitted
from pipeline.options import Limits
from pipeline.page import PageImage
from pipeline.protocols import LayoutResult, OcrRequest, OcrResult, Orientation, PageAnalysis
from pipeline.steps import Step

log = logging.getLogger("docgraph.serve")
REPLICA_GONE = (RayActorError, ActorUnavailableError)  # the replica died or is unreachable: safe to call again
RETRY_BACKOFF_S = 0.5


class HandleModels:
    def __init__(
        self,
        layout: DeploymentHandle[Any] | None,
        ocr: DeploymentHandle[Any] | None,
        *,
        retries: int = 2,
        layout_max_side: int = Limits().layout_max_side,
        ocr_max_pixels: int | None = None,
        orientation: bool = False,
    ) -> None:
        self._layout = layout
        self._ocr = ocr
        self._orientation = orientation and ocr is not None  # the OCR deployment hosts the classifier
        self._retries = retries
        self._layout_max_side = layout_max_side
        self._ocr_max_pixels = ocr_max_pixels  # the OCR reads larger images downscaled: it is sent them so

    @property
    def has_layout(self) -> bool:
        return self._layout is not None

    @property
    def has_ocr(self) -> bool:
        return self._ocr is not None

    @property
    def has_orientation(self) -> bool:
        return self._orientation

    async def orient(self, image: PageImage, *, timeout_s: float) -> Orientation:
        handle = self._ocr
        assert handle is not None
        result: Orientation = await asyncio.wait_for(
            self._call(Step.ORIENT, {}, lambda: handle.orient.remote(image)), timeout_s
        )
        return result

    async def analyze(
        self, image: PageImage, *, layout: bool, ocr: bool, timeout_s: float, ocr_request: OcrRequest
    ) -> PageAnalysis:
        want_layout = layout and self._layout is not None
        want_ocr = ocr and self._ocr is not None
        # each model gets the image at the size it reads (the layout model's input side, the OCR's pixels); when
        # that is the same image for both, it is put in the object store once and both calls get the reference
        ocr_max = self._ocr_max_pixels
        ocr_fits = ocr_max is None or image.width * image.height <= ocr_max
        shared = want_layout and want_ocr and ocr_fits and max(image.width, image.height) <= self._layout_max_side
        arg: Any = ray.put(image) if shared else image
        layout_handle, ocr_handle = self._layout, self._ocr
        attempts: dict[Step, int] = {}

        async def detect(small: PageImage) -> LayoutResult:
            assert layout_handle is not None
            sent: Any = arg if small is image else small
            result: LayoutResult = await self._call(Step.LAYOUT, attempts, lambda: layout_handle.detect.remote(sent))
            return result

        async def run_layout() -> LayoutResult:
            return await detect_fitted(image, self._layout_max_side, detect)

        async def run_ocr() -> OcrResult:
            assert ocr_handle is not None
            read: Any = arg if ocr_fits or ocr_max is None else await asyncio.to_thread(image.within, ocr_max)
            result: OcrResult = await self._call(
                Step.OCR, attempts, lambda: ocr_handle.recognize.remote(read, ocr_request)
            )
            if read is arg:
                return result
            return result.scaled(image.width / read.width, image.height / read.height)

        analysis = await analyze_page(
            layout=run_layout if want_layout else None, ocr=run_ocr if want_ocr else None, timeout_s=timeout_s
        )
        return analysis.model_copy(update={"attempts": attempts})

    async def _call(
        self, step: Step, attempts: dict[Step, int], send: Callable[[], DeploymentResponse[Any] | Any]
    ) -> Any:
        """Call a model, again if its replica died under the call (bounded; the caller's deadline still holds)."""
        while True:
            attempts[step] = attempts.get(step, 0) + 1
            try:
                return await _cancel_on_exit(send())
            except REPLICA_GONE as exc:
                if attempts[step] > self._retries:
                    raise
                log.warning(
                    "%s replica gone (%s); calling again (attempt %d)", step, type(exc).__name__, attempts[step] + 1
                )
                await asyncio.sleep(RETRY_BACKOFF_S)


async def _cancel_on_exit(response: DeploymentResponse[Any]) -> Any:
    """Await a model call; if the caller gives up (timeout, client gone), the call is cancelled too."""
    try:
        return await response
    except asyncio.CancelledError:
        response.cancel()
        raise
