"""Model deployments: plain classes wrapping a ``models/`` backend; options come from ``app.py`` / config.

A replica loads its model and runs it once on a blank page in ``__init__``: a replica that cannot do that
never becomes healthy, and Serve reports the constructor's traceback in its status (which /readyz relays).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ray import serve

from models import build_layout_model, build_ocr_model, build_orientation_model, warm_up, warm_up_ocr
from models.checkpoint import weights_licence
from models.config import (
    LAYOUT_CONCURRENT_BATCHES,
    AnyOcrConfig,
    DeepSeekRemoteConfig,
    DeepSeekVllmConfig,
    RapidOcrConfig,
    YoloLayoutConfig,
    resolve_weights,
)
from pipeline.errors import ModelUnavailableError
from pipeline.memory import freeze_startup_heap, release_freed_memory
from pipeline.page import PageImage
from pipeline.protocols import LayoutResult, ModelHealth, OcrRequest, OcrResult, Orientation
from serve.args import BatchConfig
from serve.metrics import ModelMetrics
from serve.names import LAYOUT_DEPLOYMENT, OCR_DEPLOYMENT
from serve.priority import lower_cpu_priority

log = logging.getLogger("docgraph.serve")


class LayoutDeployment:
    def __init__(self, config: YoloLayoutConfig, batch: BatchConfig) -> None:
        self._model = build_layout_model(config)
        warm_up(self._model)
        # Two batches at once where the model allows it: the batched engine letterboxes one while the other runs
        # on the device; the ONNX path runs two pages on two cores (single-threaded calls, +20 % pages/s over one
        # call on both cores). ultralytics' own predictor is not thread-safe: one batch at a time.
        self._overlap = self._model.concurrent_calls
        for method in (self.detect_batch, self.detect_two_batches):
            # serve.batch's wrapper has these setters; its annotations return the plain coroutine function
            method.set_max_batch_size(batch.max_batch_size)  # type: ignore[attr-defined]  # see above
            method.set_batch_wait_timeout_s(batch.batch_wait_timeout_s)  # type: ignore[attr-defined]  # see above
        self._metrics = ModelMetrics("layout")
        self._licence = weights_licence(resolve_weights(config.weights))
        log.info("layout model ready: %s (licence: %s)", self._model.name, self._licence)
        freeze_startup_heap()

    async def _run_batch(self, images: list[PageImage]) -> list[LayoutResult]:
        t0 = time.perf_counter()
        results = await asyncio.to_thread(self._model.predict, images)
        release_freed_memory()  # the batch's images and the model's working arrays
        per_page = (time.perf_counter() - t0) / max(len(images), 1)
        for _ in images:
            self._metrics.observe(per_page)
        return results

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.005)
    async def detect_batch(self, images: list[PageImage]) -> list[LayoutResult]:
        return await self._run_batch(images)

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.005, max_concurrent_batches=LAYOUT_CONCURRENT_BATCHES)
    async def detect_two_batches(self, images: list[PageImage]) -> list[LayoutResult]:
        return await self._run_batch(images)

    async def detect(self, image: PageImage) -> LayoutResult:
        """One page in; pages of concurrent requests are batched into one model call."""
        batched = self.detect_two_batches if self._overlap else self.detect_batch
        result: LayoutResult = await batched(image)
        return result

    async def health(self) -> ModelHealth:
        return ModelHealth(name=self._model.name, ready=True, detail="loaded and warmed up", licence=self._licence)

    @staticmethod
    def get_deployment_options() -> dict[str, Any]:
        return {
            "name": LAYOUT_DEPLOYMENT,
            "max_ongoing_requests": 32,  # lets @serve.batch fill batches from many requests
            "ray_actor_options": {"num_cpus": 0.5},
            "health_check_period_s": 10,
        }


class OcrDeployment:
    """One OCR backend per replica. For DeepSeek-OCR on vLLM that is one engine, which batches every page in
    flight on the replica: ``max_ongoing_requests`` follows the engine's ``max_num_seqs`` (app.py)."""

    async def __init__(self, config: AnyOcrConfig) -> None:  # type: ignore[misc]  # Serve awaits async constructors
        if isinstance(config, RapidOcrConfig):  # before the model makes its threads: they take the priority
            lower_cpu_priority(config.nice)
        self._model = build_ocr_model(config)
        await warm_up_ocr(self._model)  # ready = the model read a page (the engine generated once)
        self._orientation = build_orientation_model(config)  # the CPU default's page-orientation classifier
        self._metrics = ModelMetrics("ocr")
        log.info("OCR model ready: %s", self._model.name)
        freeze_startup_heap()

    async def recognize(self, image: PageImage, request: OcrRequest | None = None) -> OcrResult:
        t0 = time.perf_counter()
        result = await self._model.recognize(image, request or OcrRequest())
        release_freed_memory()  # a large page's working memory, kept by glibc's per-thread arenas otherwise
        self._metrics.observe(time.perf_counter() - t0)
        tags = {"model": result.model}
        if result.tokens:
            self._metrics.tokens.inc(result.tokens, tags=tags)
        if result.attempts > 1:
            self._metrics.retries.inc(tags=tags)
        if result.truncated:
            self._metrics.truncated.inc(tags=tags)
        return result

    async def orient(self, image: PageImage) -> Orientation:
        """How far a scan's content is turned (the ingress turns it upright before layout and OCR)."""
        if self._orientation is None:
            raise ModelUnavailableError("this OCR deployment has no orientation model (ocr.orientation is null)")
        return await asyncio.to_thread(self._orientation.predict, image)

    async def health(self) -> ModelHealth:
        orientation = self._orientation.name if self._orientation else None
        also = f"; {orientation} loaded and warmed up" if orientation else ""
        return ModelHealth(
            name=self._model.name, ready=True, detail=f"loaded and warmed up{also}", orientation=orientation
        )

    async def check_health(self) -> None:
        """Serve's periodic probe: a dead vLLM engine (or unreachable server) fails it and the replica restarts."""
        probe = getattr(self._model, "check_health", None)
        if probe is not None:
            await probe()

    @staticmethod
    def get_deployment_options(
        config: AnyOcrConfig | None = None,
    ) -> dict[str, Any]:
        actor: dict[str, float]
        if isinstance(config, DeepSeekVllmConfig):
            # Ray's default (5) would starve vLLM's batching: let the engine see as many pages as it can batch
            ongoing, actor = config.max_num_seqs, {"num_cpus": 1}
        elif isinstance(config, DeepSeekRemoteConfig):
            ongoing, actor = config.max_connections, {"num_cpus": 0.1}
        else:
            ongoing, actor = 4, {"num_cpus": 0.5}  # CPU OCR: a few pages at once per replica, the rest queue
        return {
            "name": OCR_DEPLOYMENT,
            "max_ongoing_requests": ongoing,
            "ray_actor_options": actor,
            "health_check_period_s": 10,
        }
