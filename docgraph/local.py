"""The in-process runner: the same pipeline with local backends and no Ray (CLI ``--local``, benchmarks)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from models import build_layout_model, build_ocr_model, build_orientation_model
from models.config import AnyOcrConfig, RapidOcrConfig, YoloLayoutConfig
from models.orientation import RapidOrientationModel
from pipeline import ConvertOptions, DocumentGraph, Limits, PdfPool
from pipeline.analysis import analyze_page, detect_fitted
from pipeline.convert import Conversion, convert_bytes
from pipeline.page import PageImage
from pipeline.protocols import LayoutModel, LayoutResult, OcrModel, OcrRequest, OcrResult, Orientation, PageAnalysis


@dataclass
class LocalModels:
    """``PageModels`` over backends in this process; model calls run in threads off the event loop."""

    layout: LayoutModel | None
    ocr: OcrModel | None
    layout_max_side: int = Limits().layout_max_side
    orientation: RapidOrientationModel | None = None

    @property
    def has_layout(self) -> bool:
        return self.layout is not None

    @property
    def has_ocr(self) -> bool:
        return self.ocr is not None

    @property
    def has_orientation(self) -> bool:
        return self.orientation is not None

    async def orient(self, image: PageImage, *, timeout_s: float) -> Orientation:
        assert self.orientation is not None
        return await asyncio.wait_for(asyncio.to_thread(self.orientation.predict, image), timeout_s)

    async def analyze(
        self, image: PageImage, *, layout: bool, ocr: bool, timeout_s: float, ocr_request: OcrRequest
    ) -> PageAnalysis:
        lay_model, ocr_model = self.layout, self.ocr

        async def run_layout() -> LayoutResult:
            assert lay_model is not None

            async def detect(small: PageImage) -> LayoutResult:
                return (await asyncio.to_thread(lay_model.predict, [small]))[0]

            return await detect_fitted(image, self.layout_max_side, detect)

        async def run_ocr() -> OcrResult:
            assert ocr_model is not None
            return await ocr_model.recognize(image, ocr_request)

        return await analyze_page(
            layout=run_layout if layout and lay_model else None,
            ocr=run_ocr if ocr and ocr_model else None,
            timeout_s=timeout_s,
        )


DEFAULT_LAYOUT = YoloLayoutConfig()  # frozen configs: one shared default is safe
DEFAULT_OCR = RapidOcrConfig()


class LocalConverter:
    """Convert PDFs in this process with the default CPU backends (or the ones given)."""

    def __init__(
        self,
        *,
        layout: YoloLayoutConfig | None = DEFAULT_LAYOUT,
        ocr: AnyOcrConfig | None = DEFAULT_OCR,
        limits: Limits | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.models = LocalModels(
            layout=build_layout_model(layout) if layout else None,
            ocr=build_ocr_model(ocr) if ocr else None,
            layout_max_side=self.limits.layout_max_side,
            orientation=build_orientation_model(ocr),
        )
        self.pool = PdfPool.for_limits(self.limits)

    async def convert(
        self, data: bytes, options: ConvertOptions, *, filename: str | None = None, annotate: bool = False
    ) -> Conversion:
        return await convert_bytes(
            data,
            pool=self.pool,
            models=self.models,
            options=options,
            limits=self.limits,
            filename=filename,
            annotate=annotate,
        )

    def convert_sync(
        self, data: bytes, options: ConvertOptions | None = None, *, filename: str | None = None
    ) -> DocumentGraph:
        return asyncio.run(self.convert(data, options or ConvertOptions(), filename=filename)).graph

    def close(self) -> None:
        self.pool.shutdown()
