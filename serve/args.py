"""``AppArgs``: the typed ``args:`` of serve_config.yaml, given to ``serve.app:build_app``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from models.config import OcrConfig, RapidOcrConfig, YoloLayoutConfig
from pipeline.options import Limits


class BatchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_batch_size: int = Field(default=8, gt=0, description="Pages one layout call may carry (@serve.batch).")
    batch_wait_timeout_s: float = Field(default=0.005, ge=0, description="How long a batch waits to fill.")


class AppArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layout: YoloLayoutConfig | None = Field(
        default_factory=YoloLayoutConfig, description="Layout backend; null = no layout deployment."
    )
    ocr: OcrConfig | None = Field(
        default_factory=RapidOcrConfig,
        description="OCR backend by its `backend:` key (rapidocr | deepseek-vllm | deepseek-remote); null = no OCR.",
    )
    layout_batch: BatchConfig = Field(default_factory=BatchConfig)
    limits: Limits = Field(default_factory=Limits)
