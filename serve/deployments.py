"""Model deployments: plain classes wrapping a ``models/`` backend; options come from ``app.py`` / config.

A replica loads its model and runs it once on a blank page in ``__init__``: a replica that cannot do that
never becomes healthy, and Serve reports the constructor's traceback in its status (which /readyz relays).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ray import serve

from models import build_layout_model, build_ocr_model, warm_up
from models.config import RapidOcrConfig, YoloLayoutConfig
from pipeline.page import PageImage
from pipeline.protocols import LayoutResult, ModelHealth, OcrResult
from serve.args import BatchConfig

log = logging.getLogger("docgraph.serve")


class LayoutDeployment:
    def __init__(self, config: YoloLayoutConfig, batch: BatchConfig) -> None:
        self._model = build_layout_model(config)
        warm_up(self._model)
        self.detect_batch.set_max_batch_size(batch.max_batch_size)
        self.detect_batch.set_batch_wait_timeout_s(batch.batch_wait_timeout_s)
        log.info("layout model ready: %s", self._model.name)

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.005)
    async def detect_batch(self, images: list[PageImage]) -> list[LayoutResult]:
        return await asyncio.to_thread(self._model.predict, images)

    async def detect(self, image: PageImage) -> LayoutResult:
        """One page in; pages of concurrent requests are batched into one model call."""
        result: LayoutResult = await self.detect_batch(image)
        return result

    async def health(self) -> ModelHealth:
        return ModelHealth(name=self._model.name, ready=True, detail="loaded and warmed up")

    @staticmethod
    def get_deployment_options() -> dict[str, Any]:
        return {
            "name": "LayoutDeployment",
            "max_ongoing_requests": 32,  # lets @serve.batch fill batches from many requests
            "ray_actor_options": {"num_cpus": 0.5},
            "health_check_period_s": 10,
        }


class OcrDeployment:
    def __init__(self, config: RapidOcrConfig) -> None:
        self._model = build_ocr_model(config)
        warm_up(self._model)
        log.info("OCR model ready: %s", self._model.name)

    async def recognize(self, image: PageImage) -> OcrResult:
        return await asyncio.to_thread(self._model.recognize, image)

    async def health(self) -> ModelHealth:
        return ModelHealth(name=self._model.name, ready=True, detail="loaded and warmed up")

    @staticmethod
    def get_deployment_options() -> dict[str, Any]:
        return {
            "name": "OcrDeployment",
            "max_ongoing_requests": 4,  # CPU OCR: a few pages at once per replica, the rest queue in Serve
            "ray_actor_options": {"num_cpus": 0.5},
            "health_check_period_s": 10,
        }
