"""Serve mode's ``PageModels``: the running application's model deployments through their DeploymentHandles
(``serve.handles.HandleModels``, the ingress's own class, with its retries when a replica dies), behind a gate that
bounds this actor's model calls in flight: the batch's share of the replicas, so HTTP keeps its place (ADR 0011)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from pipeline.options import OcrMode
from pipeline.page import PageImage
from pipeline.protocols import OcrRequest, Orientation, PageAnalysis
from serve.names import LAYOUT_DEPLOYMENT, OCR_DEPLOYMENT

if TYPE_CHECKING:
    from docgraph.batch.worker import WorkerSpec

HEALTH_TIMEOUT_S = 60.0
Run = Callable[[Coroutine[Any, Any, Any]], Any]


class GatedModels:
    """``PageModels`` with at most ``limit`` model calls in flight, every document of the actor together: the batch's
    share of the service's replicas (serve mode; ADR 0011). A page waits here before its model deadline starts."""

    def __init__(self, models: Any, limit: int) -> None:
        self._models = models
        self._gate = asyncio.Semaphore(limit)

    @property
    def has_layout(self) -> bool:
        return bool(self._models.has_layout)

    @property
    def has_ocr(self) -> bool:
        return bool(self._models.has_ocr)

    @property
    def has_orientation(self) -> bool:
        return bool(self._models.has_orientation)

    async def orient(self, image: PageImage, *, timeout_s: float) -> Orientation:
        async with self._gate:
            result: Orientation = await self._models.orient(image, timeout_s=timeout_s)
            return result

    async def analyze(
        self, image: PageImage, *, layout: bool, ocr: bool, timeout_s: float, ocr_request: OcrRequest
    ) -> PageAnalysis:
        async with self._gate:
            result: PageAnalysis = await self._models.analyze(
                image, layout=layout, ocr=ocr, timeout_s=timeout_s, ocr_request=ocr_request
            )
            return result


def serve_models(spec: WorkerSpec, run: Run) -> tuple[GatedModels, Any, tuple[str | None, str | None, str | None]]:
    """(models, PyMuPDF pool, (layout, OCR, orientation model names)) for ``spec``; ``run`` runs a coroutine on the
    actor's event loop."""
    from ray import serve

    from pipeline.pdfpool import PdfPool
    from serve.handles import HandleModels

    limits = spec.limits
    # the deployments this conversion calls: those the application runs and the options ask for
    use_layout = spec.options.layout and LAYOUT_DEPLOYMENT in spec.deployments
    use_ocr = spec.options.ocr is not OcrMode.NEVER and OCR_DEPLOYMENT in spec.deployments
    layout = serve.get_deployment_handle(LAYOUT_DEPLOYMENT, spec.app_name) if use_layout else None
    ocr = serve.get_deployment_handle(OCR_DEPLOYMENT, spec.app_name) if use_ocr else None
    layout_name = run(_health(layout)) if layout is not None else None
    ocr_name, orientation = run(_ocr_health(ocr)) if ocr is not None else (None, None)
    models = HandleModels(
        layout,
        ocr,
        retries=limits.model_retries,
        layout_max_side=limits.layout_max_side,
        orientation=orientation is not None,
    )
    return GatedModels(models, spec.model_calls), PdfPool.for_limits(limits), (layout_name, ocr_name, orientation)


async def _health(handle: Any) -> str | None:
    try:
        health = await asyncio.wait_for(handle.health.remote(), HEALTH_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - a name for the index only
        return None
    return str(health.name)


async def _ocr_health(handle: Any) -> tuple[str | None, str | None]:
    """The OCR model's name and, when the deployment hosts one, the orientation classifier's."""
    try:
        health = await asyncio.wait_for(handle.health.remote(), HEALTH_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - a name for the index only
        return None, None
    return str(health.name), health.orientation
