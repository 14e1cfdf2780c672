"""Build a backend from its config, and prove it works by running it once on a blank page."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

import numpy as np

from models.config import AnyOcrConfig, DeepSeekRemoteConfig, DeepSeekVllmConfig, PluginOcrConfig, YoloLayoutConfig
from pipeline.errors import ModelUnavailableError
from pipeline.page import PageImage
from pipeline.protocols import LayoutModel, OcrModel, OcrRequest

if TYPE_CHECKING:
    from models.orientation import RapidOrientationModel

BLANK_PAGE = PageImage(page_no=0, pixels=np.full((1100, 850, 3), 255, dtype=np.uint8), scale_x=1.0, scale_y=1.0)


def build_orientation_model(config: AnyOcrConfig | None) -> RapidOrientationModel | None:
    """The page-orientation classifier an OCR config asks for (the CPU default's), warmed up; else None."""
    settings = getattr(config, "orientation", None)
    if settings is None:
        return None
    from models.orientation import RapidOrientationModel

    model = RapidOrientationModel(settings)
    model.predict(BLANK_PAGE)  # ready = it classified a page
    return model


def build_layout_model(config: YoloLayoutConfig) -> LayoutModel:
    if config.batched:
        from models.layout_torch import TorchLayoutModel

        return TorchLayoutModel(config)
    from models.layout_yolo import YoloLayoutModel

    return YoloLayoutModel(config)


def build_ocr_model(config: AnyOcrConfig) -> OcrModel:
    """The backend named by ``config.backend``; imports only that backend's libraries."""
    if isinstance(config, PluginOcrConfig):
        return _load_plugin(config)
    if isinstance(config, DeepSeekVllmConfig):
        from models.ocr_deepseek_vllm import DeepSeekVllmOcr

        return DeepSeekVllmOcr(config)
    if isinstance(config, DeepSeekRemoteConfig):
        from models.ocr_deepseek_remote import DeepSeekRemoteOcr

        return DeepSeekRemoteOcr(config)
    from models.ocr_rapid import RapidOcrModel

    return RapidOcrModel(config)


def _load_plugin(config: PluginOcrConfig) -> OcrModel:
    module_name, _, class_name = config.target.partition(":")
    try:
        module = import_module(module_name)
    except ImportError as exc:  # the lesson: a missing dependency is a loud, named failure at start-up
        raise ModelUnavailableError(
            f"OCR plugin {config.target}: cannot import {module_name}: {exc}", code="missing_dependency"
        ) from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ModelUnavailableError(f"OCR plugin {config.target}: {module_name} has no {class_name}")
    model: OcrModel = cls(**config.options)
    return model


def warm_up(model: LayoutModel) -> None:
    """Run the layout model once on a blank page: readiness means a real inference went through."""
    model.predict([BLANK_PAGE])


async def warm_up_ocr(model: OcrModel) -> None:
    """Run the OCR model once on a blank page (for DeepSeek-OCR: the engine generated once)."""
    await model.recognize(BLANK_PAGE, OcrRequest())
