"""Model backends behind ``pipeline.protocols`` (one per file), importable without Ray."""

from models.config import (
    DeepSeekRemoteConfig,
    DeepSeekVllmConfig,
    OcrConfig,
    RapidOcrConfig,
    YoloLayoutConfig,
    resolve_weights,
)
from models.factory import build_layout_model, build_ocr_model, build_orientation_model, warm_up, warm_up_ocr

__all__ = [
    "DeepSeekRemoteConfig",
    "DeepSeekVllmConfig",
    "OcrConfig",
    "RapidOcrConfig",
    "YoloLayoutConfig",
    "build_layout_model",
    "build_ocr_model",
    "build_orientation_model",
    "resolve_weights",
    "warm_up",
    "warm_up_ocr",
]
