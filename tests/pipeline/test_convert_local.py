"""The whole pipeline in-process on PDFs the project makes: routes, statuses, exports, failures as data."""

from __future__ import annotations

import asyncio
import io
import zipfile
from typing import Any

import pymupdf
import pytest
from PIL import Image

from docgraph.samples import TITLE, make_text_pdf
from pipeline import ConvertOptions, OcrMode
from pipeline.export import MarkdownSerializer, ZipBundleSerializer
from pipeline.graph import (
    BlockType,
    DocumentGraph,
    DocumentStatus,
    Figure,
    PageKind,
    PageStatus,
    Source,
    Table,
    schema_json,
)
from pipeline.options import Limits
from pipeline.steps import Step
from tests.conftest import ROOT
from tests.invariants import assert_graph_invariants
from tests.textsim import similarity

pytestmark = pytest.mark.models  # the layout model and RapidOCR, on CPU


def test_sample_routes_each_page_by_its_kind(local_converter: Any, sample_pdf: bytes) -> None:
    graph = local_converter.convert_sync(sample_pdf, ConvertOptions(), filename="sample.pdf")
    assert_graph_invariants(graph)
    assert graph.status is DocumentStatus.COMPLETE
    assert [p.kind for p in graph.pages] == [PageKind.DIGITAL, PageKind.DIGITAL, PageKind.SCANNED]
    # it has a table: on a digital page the table step starts before the merge (the page's ruled tables are read)
    assert graph.pages[0].route == [Step.TEXT, Step.RENDER, Step.LAYOUT, Step.TABLES, Step.MERGE]
    assert graph.pages[2].route == [Step.TEXT, Step.RENDER, Step.ORIENT, Step.LAYOUT, Step.OCR, Step.MERGE, Step.TABLES]
    digital, scanned = (next(b for b in graph.page_blocks(n) if isinstance(b, Table)) for n in (1, 3))
    assert digital.structure == "pymupdf-lines" and scanned.structure == "clustered"
    assert digital.grid() == scanned.grid() and digital.num_rows >= 3  # the scan of page 1 reads the same cells
    types = {b.type for b in graph.page_blocks(1)}
    assert {BlockType.TABLE, BlockType.TEXT} <= types
    assert {b.source for b in graph.page_blocks(3) if b.text} == {Source.OCR}
    # the scan is page 1 rasterised: OCR must read it nearly as the text layer does
    md_pages = MarkdownSerializer().serialize(graph).split("\n---\n")
    assert similarity(md_pages[2], md_pages[0]) > 0.9
    assert TITLE in md_pages[0]


def test_fast_path_renders_nothing(local_converter: Any) -> None:
    graph = local_converter.convert_sync(make_text_pdf(10), ConvertOptions(layout=False))
    assert_graph_invariants(graph)
    assert all(p.route == [Step.TEXT, Step.MERGE] for p in graph.pages)
    assert all(b.source is Source.TEXT_LAYER for b in graph.blocks)
    assert next(b.text for b in graph.page_blocks(3)) == "Section 3"


def test_ocr_always_keeps_text_layer_text_and_adds_ocr_evidence(local_converter: Any) -> None:
    graph = local_converter.convert_sync(make_text_pdf(1), ConvertOptions(ocr=OcrMode.ALWAYS, layout=False))
    block = graph.page_blocks(1)[1]
    assert block.source is Source.TEXT_LAYER
    ocr = [p for p in block.prov if p.source is Source.OCR]
    assert ocr and ocr[0].text and similarity(ocr[0].text, block.text) > 0.8  # measured 0.83 (144 dpi, 10 pt)


def test_a_failing_page_is_reported_and_the_rest_completes(local_converter: Any, sample_pdf: bytes) -> None:
    from docgraph.local import LocalConverter

    # A pixel budget so small that even min_dpi does not fit: every page needing a render fails to render.
    converter = LocalConverter(limits=Limits(max_page_pixels=10_000), layout=None)
    try:
        graph = converter.convert_sync(sample_pdf, ConvertOptions())
    finally:
        converter.close()
    assert_graph_invariants(graph)
    assert graph.status is DocumentStatus.PARTIAL
    assert [p.status for p in graph.pages] == [PageStatus.OK, PageStatus.OK, PageStatus.FAILED]
    failed = graph.pages[2]
    assert failed.error is not None and failed.error.code == "page_too_large" and failed.error.step is Step.RENDER
    assert failed.route == [Step.TEXT, Step.RENDER]  # the step that failed was recorded before it ran
    assert any(w.page_no == 3 for w in graph.warnings)


def test_model_timeout_is_a_labelled_partial_result(sample_pdf: bytes) -> None:
    from docgraph.local import LocalConverter

    converter = LocalConverter(limits=Limits(model_timeout_s=0.001), ocr=None)
    try:
        graph = converter.convert_sync(sample_pdf, ConvertOptions(pages="1"))
    finally:
        converter.close()
    page = graph.pages[0]
    assert page.status is PageStatus.PARTIAL and page.error is not None and page.error.code == "step_timeout"
    assert graph.status is DocumentStatus.PARTIAL
    assert any(b.text for b in graph.blocks), "the text layer still gives the page its text"


def test_rotated_page_boxes_are_in_display_space(local_converter: Any) -> None:
    src = pymupdf.open(stream=make_text_pdf(1), filetype="pdf")
    src[0].set_rotation(90)
    graph = local_converter.convert_sync(src.tobytes(), ConvertOptions(layout=False))
    assert_graph_invariants(graph)
    page = graph.pages[0]
    assert (page.width, page.height, page.rotation) == (792, 612, 90)
    heading = graph.page_blocks(1)[0]
    assert heading.text == "Section 1" and heading.bbox.height > heading.bbox.width  # shown sideways


def test_zip_bundle_holds_json_markdown_and_annotated_pages(local_converter: Any, sample_pdf: bytes) -> None:
    result = asyncio.run(local_converter.convert(sample_pdf, ConvertOptions(), annotate=True))
    bundle = zipfile.ZipFile(
        io.BytesIO(ZipBundleSerializer().serialize(result.graph, result.annotated, result.figures))
    )
    names = set(bundle.namelist())
    assert {"document.json", "document.md", "document.html", "pages/page-0001.png", "pages/page-0003.png"} <= names
    png = bundle.read("pages/page-0001.png")
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    # page 2's figure (a 400 x 240 pt picture) is cropped, and the graph in the bundle names its crop
    graph = DocumentGraph.model_validate_json(bundle.read("document.json"))
    figure = next(b for b in graph.page_blocks(2) if isinstance(b, Figure))
    assert figure.image in names and figure.image.startswith("figures/page-0002-")
    with Image.open(io.BytesIO(bundle.read(figure.image))) as crop:
        zoom = crop.width / figure.bbox.width
        assert 1.5 < zoom < 2.5 and abs(crop.height - figure.bbox.height * zoom) <= 2  # 144 dpi, the box's shape
    # a conversion's repr is one line, not its graph and PNGs (asyncio.run in Python 3.11 formats it at its end)
    assert repr(result) == (
        f"Conversion(complete, {len(result.graph.pages)} pages, {len(result.graph.blocks)} blocks, "
        f"{len(result.annotated)} annotated, {len(result.figures)} figures)"
    )
    assert len(result.annotated) == 3 and result.figures


def test_published_schema_is_current() -> None:
    published = (ROOT / "docs" / "schema" / "document_graph.schema.json").read_text()
    assert published == schema_json(), "run `docgraph schema > docs/schema/document_graph.schema.json`"
