"""Exporters behind the registry: every format named once, HTML escapes what the PDF says, headings by level."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pymupdf
import pytest

from pipeline.export import EXPORTERS, HtmlSerializer, MarkdownSerializer
from pipeline.graph import BlockType
from pipeline.options import ConvertOptions
from serve.api import OutputFormat


def _pdf(lines: list[tuple[str, float]]) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    y = 72.0
    for text, size in lines:
        page.insert_text((72, y), text, fontsize=size, fontname="helv")
        y += size * 2.2
    data: bytes = doc.tobytes()
    return data


def test_every_output_format_but_zip_is_an_exporter() -> None:
    assert {f.value for f in OutputFormat} - {"zip"} == set(EXPORTERS)
    assert {e.extension for e in EXPORTERS.values()} == {"json", "md", "html", "docling.json", "chunks.json"}


def test_html_escapes_text_from_the_pdf(local_converter: Any) -> None:
    hostile = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    data = _pdf([("Plain words before.", 11), (hostile, 11)])
    graph = local_converter.convert_sync(data, ConvertOptions(layout=False))
    html = HtmlSerializer().serialize(graph)
    tags: list[str] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append(tag)

    Tags().feed(html)
    assert "script" not in tags and "img" not in tags
    assert "&lt;script&gt;" in html


def test_heading_levels_from_numbering_and_the_title_from_size(local_converter: Any) -> None:
    body = "Body text of the section that runs on for a while to be the body size."
    data = _pdf(
        [
            ("A Report Title", 24),
            ("1 Introduction", 14),
            (body, 10),
            ("1.1 Scope", 12),
            (body, 10),
            ("1.1.1 Limits", 12),
            (body, 10),
            ("2 Methods", 14),
            (body, 10),
        ]
    )
    graph = local_converter.convert_sync(data, ConvertOptions(layout=False))
    blocks = graph.page_blocks(1)
    levels = [(b.text, getattr(b, "level", None)) for b in blocks if b.type is BlockType.SECTION_HEADER]
    assert levels == [("1 Introduction", 1), ("1.1 Scope", 2), ("1.1.1 Limits", 3), ("2 Methods", 1)]
    assert blocks[0].type is BlockType.TITLE and blocks[0].text == "A Report Title"
    markdown = MarkdownSerializer().serialize(graph)
    assert "# A Report Title\n" in markdown and "## 1 Introduction" in markdown and "#### 1.1.1 Limits" in markdown
    # the section tree: Introduction holds Scope, which holds Limits; Methods is Introduction's sibling
    sections = {g.heading: g for g in graph.groups if g.kind.value == "section"}
    by_text = {b.text: b.id for b in blocks}
    intro = sections[by_text["1 Introduction"]]
    scope = sections[by_text["1.1 Scope"]]
    assert scope.id in intro.children and sections[by_text["1.1.1 Limits"]].id in scope.children
    assert sections[by_text["2 Methods"]].id in graph.body and intro.id in graph.body


def test_page_numbers_and_running_heads_are_furniture_unless_asked_for(local_converter: Any) -> None:
    from pipeline.export import ExportOptions, exporter

    doc = pymupdf.open()
    for n in range(1, 4):
        page = doc.new_page(width=612, height=792)
        page.insert_text((72, 30), "Journal of Examples, Vol. 3", fontsize=8)
        page.insert_text((72, 120), f"Body text of page {n}, long enough to be the body of the page.", fontsize=10)
        page.insert_text((300, 775), str(n), fontsize=9)
    graph = local_converter.convert_sync(doc.tobytes(), ConvertOptions(layout=False))
    furniture = {(b.page_no, b.type, b.text) for b in graph.blocks if b.content_layer.value == "furniture"}
    assert (2, BlockType.PAGE_FOOTER, "2") in furniture
    assert (3, BlockType.PAGE_HEADER, "Journal of Examples, Vol. 3") in furniture
    plain = exporter("markdown").export(graph).decode()
    assert "Journal of Examples" not in plain and "Body text of page 2" in plain
    back = exporter("markdown").export(graph, ExportOptions(furniture=True)).decode()
    assert back.index("Journal of Examples") < back.index("Body text of page 1") < back.index("\n1\n")
    html = exporter("html").export(graph, ExportOptions(furniture=True)).decode()
    assert "<header>Journal of Examples, Vol. 3</header>" in html and "<footer>3</footer>" in html


@pytest.mark.models  # the layout model on the sample's first page
def test_detail_adds_lines_and_words_with_boxes(local_converter: Any) -> None:
    from docgraph.samples import make_sample_pdf
    from pipeline.options import Detail
    from tests.invariants import assert_graph_invariants

    data = make_sample_pdf()
    plain = local_converter.convert_sync(data, ConvertOptions(pages="1"))
    assert all(b.lines is None and b.words is None for b in plain.blocks)
    lines = local_converter.convert_sync(data, ConvertOptions(pages="1,3", detail=Detail.LINES))
    assert_graph_invariants(lines)
    for page_no in (1, 3):  # the text layer's lines, and RapidOCR's on the scan
        texts = [b for b in lines.page_blocks(page_no) if b.type is BlockType.TEXT]
        assert texts and all(b.lines for b in texts)
        for block in texts:
            assert block.lines is not None and block.words is None
            joined = " ".join(ln.text.strip() for ln in block.lines)
            assert joined.replace("- ", "-").split() and joined.split()[0] == block.text.split()[0]
            assert all(block.bbox.intersection(ln.bbox) >= 0.5 * ln.bbox.area for ln in block.lines)
    words = local_converter.convert_sync(data, ConvertOptions(pages="1", detail=Detail.WORDS))
    body = next(b for b in words.page_blocks(1) if b.text.startswith("Left column."))
    assert body.words is not None and [w.text for w in body.words[:2]] == ["Left", "column."]
    assert all(body.bbox.intersection(w.bbox) >= 0.5 * w.bbox.area for w in body.words)
