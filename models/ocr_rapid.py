"""CPU OCR with RapidOCR (PP-OCRv6 detection + recognition ONNX models shipped in the rapidocr wheel)."""

from __future__ import annotations

import asyncio
from importlib.metadata import version

import numpy as np

from models.config import RapidOcrConfig
from pipeline.geometry import BBox
from pipeline.page import PageImage
from pipeline.protocols import OcrBlock, OcrRequest, OcrResult


class RapidOcrModel:
    """Implements ``pipeline.protocols.OcrModel``: one block per detected text line, no labels."""

    def __init__(self, config: RapidOcrConfig) -> None:
        from rapidocr import RapidOCR

        params: dict[str, object] = {"Global.text_score": config.text_score, "Global.log_level": "warning"}
        if config.threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = config.threads
        self.config = config
        self._engine = RapidOCR(params=params)
        self.name = f"rapidocr-ppocrv6@{version('rapidocr')}"

    async def recognize(self, image: PageImage, request: OcrRequest) -> OcrResult:
        """``request`` has no setting RapidOCR understands; CPU work runs in a thread."""
        return await asyncio.to_thread(self.read, image)

    def read(self, image: PageImage) -> OcrResult:
        bgr = np.ascontiguousarray(image.pixels[:, :, ::-1])
        from rapidocr.utils.output import RapidOCROutput

        out = self._engine(bgr)
        # detection + recognition both on (the engine's defaults): the full pipeline's output type
        assert isinstance(out, RapidOCROutput), type(out)
        blocks: list[OcrBlock] = []
        if out.boxes is not None and out.txts is not None and out.scores is not None:
            for quad, text, score in zip(out.boxes, out.txts, out.scores, strict=True):
                pts = np.asarray(quad, dtype=float)
                box = BBox.of((pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()))
                box = box.clip(image.width, image.height)
                if text and box.area > 0:
                    blocks.append(OcrBlock(bbox=box, text=str(text), confidence=float(min(max(score, 0.0), 1.0))))
        return OcrResult(model=self.name, blocks=blocks)
