"""Build a backend from its config, and prove it works by running it once on a blank page."""

from __future__ import annotations

import numpy as np

from models.config import RapidOcrConfig, YoloLayoutConfig
from pipeline.page import PageImage
from pipeline.protocols import LayoutModel, OcrModel

BLANK_PAGE = PageImage(page_no=0, pixels=np.full((1100, 850, 3), 255, dtype=np.uint8), scale_x=1.0, scale_y=1.0)


def build_layout_model(config: YoloLayoutConfig) -> LayoutModel:
    from models.layout_yolo import YoloLayoutModel

    return YoloLayoutModel(config)


def build_ocr_model(config: RapidOcrConfig) -> OcrModel:
    from models.ocr_rapid import RapidOcrModel

    return RapidOcrModel(config)


def warm_up(model: LayoutModel | OcrModel) -> None:
    """Run the model once on a blank page: readiness means a real inference went through."""
    if isinstance(model, LayoutModel):
        model.predict([BLANK_PAGE])
    else:
        model.recognize(BLANK_PAGE)
