"""CPU OCR with RapidOCR (PP-OCRv6 detection + recognition ONNX models shipped in the rapidocr wheel)."""

from __future__ import annotations

import asyncio
import threading
from importlib.metadata import version
from typing import Any

import numpy as np
import numpy.typing as npt

from models.config import RapidOcrConfig
from pipeline.geometry import BBox
from pipeline.page import PageImage
from pipeline.protocols import OcrBlock, OcrRequest, OcrResult

DET_MIN_SIDE = 736  # RapidOCR's detector scales an image up until its shorter side is this (Det.limit_side_len)


def _padded(pixels: npt.NDArray[Any], min_side: int) -> npt.NDArray[Any]:
    """A small image (a picture region's crop: a 940x170 px banner) padded with white to ``min_side`` on its short
    side, at its right and bottom (boxes keep their pixels): the detector would scale it up 4x instead, and a
    banner then read 5x slower and split its line in two (bench/pictures.py)."""
    height, width = pixels.shape[:2]
    if min(height, width) >= min_side:
        return pixels
    canvas = np.full((max(height, min_side), max(width, min_side), 3), 255, dtype=np.uint8)
    canvas[:height, :width] = pixels
    return canvas


class RapidOcrModel:
    """Implements ``pipeline.protocols.OcrModel``: one block per detected text line, no labels."""

    def __init__(self, config: RapidOcrConfig) -> None:
        from rapidocr import RapidOCR

        params: dict[str, object] = {"Global.text_score": config.text_score, "Global.log_level": "warning"}
        if config.threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = config.threads
        self.config = config
        self._engine = RapidOCR(params=params)
        # pages read at once (config.max_concurrent), taken in the reading thread: any event loop may call (the CLI
        # runs one per conversion), and a cancelled call keeps its turn until its read has ended
        self._turns = threading.BoundedSemaphore(config.max_concurrent)
        self.name = f"rapidocr-ppocrv6@{version('rapidocr')}"

    async def recognize(self, image: PageImage, request: OcrRequest) -> OcrResult:
        """``request`` has no setting RapidOCR understands; CPU work runs in a thread, at most
        ``config.max_concurrent`` pages at once."""
        return await asyncio.to_thread(self._read_in_turn, image)

    def _read_in_turn(self, image: PageImage) -> OcrResult:
        with self._turns:
            return self.read(image)

    def read(self, image: PageImage) -> OcrResult:
        from rapidocr.utils.output import RapidOCROutput

        # PP-OCR reads a 300-dpi page as well as a 600-dpi one: larger images are read downscaled (memory and
        # time grow with pixels; the ingress sends them so: models.config.ocr_input_max_pixels), and the boxes
        # mapped back to the image's pixels
        small = image.within(self.config.max_pixels)
        fx, fy = small.width / image.width, small.height / image.height
        pixels = _padded(small.pixels, DET_MIN_SIDE)
        out = self._engine(np.ascontiguousarray(pixels[:, :, ::-1]))  # BGR
        # detection + recognition both on (the engine's defaults): the full pipeline's output type
        assert isinstance(out, RapidOCROutput), type(out)
        blocks: list[OcrBlock] = []
        if out.boxes is not None and out.txts is not None and out.scores is not None:
            for quad, text, score in zip(out.boxes, out.txts, out.scores, strict=True):
                pts = np.asarray(quad, dtype=float) / (fx, fy)
                box = BBox.of((pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()))
                box = box.clip(image.width, image.height)
                if text and box.area > 0:
                    blocks.append(OcrBlock(bbox=box, text=str(text), confidence=float(min(max(score, 0.0), 1.0))))
        return OcrResult(model=self.name, blocks=blocks)
