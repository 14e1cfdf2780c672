"""A grounded DeepSeek-OCR page through the whole in-process conversion: the 0-999 grid becomes the right
PDF coordinates, labels become types, the emission order becomes the reading order, truncation is reported.

Page 3 of the sample is a raster of page 1, so page 1's text layer says where every word on the scan is.
The model's output is scripted from those positions (tests/scripted.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from docgraph.local import LocalConverter, LocalModels
from models.ocr_deepseek import Generation
from pipeline import ConvertOptions
from pipeline.graph import BlockType, DocumentGraph, PageStatus, Source
from pipeline.options import DeepSeekMode
from pipeline.page import TextBlock
from pipeline.pdf import open_document
from pipeline.steps import Step
from tests.conftest import TEST_LIMITS
from tests.invariants import assert_graph_invariants
from tests.scripted import ScriptedDeepSeek

Blocks = tuple[list[TextBlock], float, float]  # page 1's text blocks, its width and height


def _grid(v: float, extent: float) -> int:
    return round(v / extent * 999)


@pytest.fixture(scope="module")
def page1_blocks(sample_pdf: bytes) -> Blocks:
    doc = open_document(sample_pdf, limits=TEST_LIMITS)
    try:
        geometry = doc.geometry(1)
        blocks = [b for b in doc.text_layer(1).blocks if not b.is_image]
        return blocks, geometry.width, geometry.height
    finally:
        doc.close()


def generation(text: str, finish: str = "stop") -> Generation:
    return Generation(text=text, tokens=len(text) // 4, finish_reason=finish, mean_logprob=-0.05)


def grounded_output(blocks: list[TextBlock], width: float, height: float, *, reverse: bool = False) -> str:
    parts = []
    for i, block in enumerate(reversed(blocks) if reverse else blocks):
        b = block.bbox
        box = f"[[{_grid(b.l, width)}, {_grid(b.t, height)}, {_grid(b.r, width)}, {_grid(b.b, height)}]]"
        label = "title" if i == 0 and not reverse else "text"
        parts.append(f"<|ref|>{label}<|/ref|><|det|>{box}<|/det|>\n{block.text}\n\n")
    return "".join(parts) + "<｜end▁of▁sentence｜>"


def convert(model: ScriptedDeepSeek, sample_pdf: bytes, **options: Any) -> DocumentGraph:
    converter = LocalConverter(layout=None, ocr=None, limits=TEST_LIMITS)
    converter.models = LocalModels(layout=None, ocr=model)
    try:
        opts = ConvertOptions(pages="3", **options)
        return asyncio.run(converter.convert(sample_pdf, opts)).graph
    finally:
        converter.close()


def test_grounded_blocks_land_where_the_text_is_on_the_page(sample_pdf: bytes, page1_blocks: Blocks) -> None:
    blocks, width, height = page1_blocks
    model = ScriptedDeepSeek([generation(grounded_output(blocks, width, height))])
    graph = convert(model, sample_pdf, deepseek_mode=DeepSeekMode.BASE)
    assert_graph_invariants(graph)
    page = graph.pages[0]
    assert page.status is PageStatus.OK and page.route == [Step.TEXT, Step.RENDER, Step.OCR, Step.MERGE]
    assert model.modes == [DeepSeekMode.BASE]  # the request's mode reached the backend
    out = graph.page_blocks(3)
    assert len(out) == len(blocks)
    # one grid cell is width/999 ≈ 0.6 pt: boxes come back within a point of where page 1 has them
    for got, want in zip(out, blocks, strict=True):
        for a, b in zip(got.bbox.as_tuple()[:4], want.bbox.as_tuple(), strict=True):
            assert a == pytest.approx(b, abs=1.0), (got.text, got.bbox, want.bbox)
        assert got.text == want.text.strip() or got.text.replace("\n", " ") == want.text.replace("\n", " ")
        assert got.source is Source.OCR and got.model == "deepseek-ocr@scripted"
    assert out[0].type is BlockType.TITLE and {b.type for b in out[1:]} == {BlockType.TEXT}


def test_reading_order_is_the_models_emission_order(sample_pdf: bytes, page1_blocks: Blocks) -> None:
    blocks, width, height = page1_blocks
    graph = convert(ScriptedDeepSeek([generation(grounded_output(blocks, width, height, reverse=True))]), sample_pdf)
    texts = [b.text for b in graph.page_blocks(3)]
    assert texts[0].replace("\n", " ") == blocks[-1].text.strip().replace("\n", " ")  # bottom block read first


def test_a_page_that_keeps_looping_is_partial_with_the_reason(sample_pdf: bytes, page1_blocks: Blocks) -> None:
    blocks, width, height = page1_blocks
    cut = grounded_output(blocks[:2], width, height).replace("<｜end▁of▁sentence｜>", "")
    model = ScriptedDeepSeek([generation(cut, finish="length")])
    graph = convert(model, sample_pdf, deepseek_mode=DeepSeekMode.GUNDAM)
    page = graph.pages[0]
    assert model.modes == [DeepSeekMode.GUNDAM, DeepSeekMode.BASE]
    assert page.status is PageStatus.PARTIAL and page.error is not None and page.error.code == "ocr_truncated"
    assert graph.status == "partial"
    assert len(graph.page_blocks(3)) == 2  # what was read is kept, not dropped


def test_an_html_table_becomes_cells_with_its_spans(sample_pdf: bytes) -> None:
    """DeepSeek-OCR writes a table as HTML (rowspan/colspan) under its grounding box: the table gets cells,
    read with an HTML parser, and its box from the grounding; Markdown and HTML carry the grid."""
    from pipeline.export import HtmlSerializer, MarkdownSerializer
    from pipeline.graph import Table

    html = (
        '<table><tr><td rowspan="2">Route</td><td colspan="2">Speed &amp; hardware</td></tr>'
        "<tr><td>Pages/s</td><td>GPU</td></tr><tr><td>text layer</td><td>500</td><td>no</td></tr>"
        "<tr><td>OCR</td><td>0.3</td><td>yes</td></tr></table>"
    )
    box = f"[[{_grid(72, 612)}, {_grid(520, 792)}, {_grid(540, 612)}, {_grid(608, 792)}]]"
    output = f"<|ref|>table<|/ref|><|det|>{box}<|/det|>\n{html}\n\n<｜end▁of▁sentence｜>"
    graph = convert(ScriptedDeepSeek([generation(output)]), sample_pdf)
    assert_graph_invariants(graph)
    (table,) = [b for b in graph.page_blocks(3) if isinstance(b, Table)]
    assert table.structure == "html" and (table.num_rows, table.num_cols) == (4, 3)
    assert table.grid() == [
        ["Route", "Speed & hardware", "Speed & hardware"],
        ["Route", "Pages/s", "GPU"],
        ["text layer", "500", "no"],
        ["OCR", "0.3", "yes"],
    ]
    assert table.bbox.t == pytest.approx(520, abs=1.5) and table.bbox.b == pytest.approx(608, abs=1.5)
    assert graph.pages[0].route[-1] is Step.TABLES
    assert "| Route | Speed & hardware | Speed & hardware |\n|---|---|---|" in MarkdownSerializer().serialize(graph)
    assert '<th rowspan="2">Route</th><th colspan="2">Speed &amp; hardware</th>' in HtmlSerializer().serialize(graph)


def test_a_formula_keeps_the_latex_the_model_wrote(sample_pdf: bytes) -> None:
    from pipeline.export import MarkdownSerializer
    from pipeline.graph import Formula

    box = f"[[{_grid(200, 612)}, {_grid(140, 792)}, {_grid(400, 612)}, {_grid(170, 792)}]]"
    output = f"<|ref|>equation<|/ref|><|det|>{box}<|/det|>\n\\[ e^{{i \\pi}}+1=0 \\]\n\n<｜end▁of▁sentence｜>"
    graph = convert(ScriptedDeepSeek([generation(output)]), sample_pdf)
    assert_graph_invariants(graph)
    (formula,) = [b for b in graph.page_blocks(3) if isinstance(b, Formula)]
    assert formula.latex == "e^{i \\pi}+1=0" and formula.source is Source.OCR
    assert "$$\ne^{i \\pi}+1=0\n$$" in MarkdownSerializer().serialize(graph)
