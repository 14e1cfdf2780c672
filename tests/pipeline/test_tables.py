"""Table structure end to end on pages the tests make, with known cells: ruled, unruled, a spanning header
cell, the ruled page as a scan (the OCR path), a table continued on the next page, and landscape pages whose text
runs sideways as stored (/Rotate 90 and 270, and the same pages printed sideways without /Rotate)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pymupdf
import pytest
from markdown_it import MarkdownIt
from pymupdf import table as pymupdf_table

from docgraph.samples import make_landscape_table_pdf, make_table_pdf, make_wide_table_pdf
from pipeline.export.html import HtmlSerializer
from pipeline.export.markdown import MarkdownSerializer
from pipeline.graph import BlockType, DocumentGraph, EdgeKind, Table
from pipeline.options import ConvertOptions
from pipeline.tables import GRID_SLACK
from tests.invariants import assert_graph_invariants

pytestmark = pytest.mark.models


def _tables(graph: DocumentGraph) -> list[Table]:
    return [b for b in graph.blocks if isinstance(b, Table)]


def _markdown_tables(markdown: str) -> list[list[list[str]]]:
    """Tables as a real Markdown parser (markdown-it, GFM tables on) reads them: rows of cell texts."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    tables: list[list[list[str]]] = []
    row: list[str] | None = None
    for i, token in enumerate(tokens):
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type in ("th_open", "td_open") and row is not None:
            row.append(tokens[i + 1].content if tokens[i + 1].type == "inline" else "")
        elif token.type == "tr_close" and row is not None:
            tables[-1].append(row)
            row = None
    return tables


class _HtmlTables(HTMLParser):
    """Tables of an HTML document as grids, a rowspan/colspan cell's text in every slot it covers."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._taken: dict[tuple[int, int], str] = {}
        self._row = -1
        self._cell: tuple[int, int] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._taken, self._row = {}, -1
        elif tag == "tr":
            self._row += 1
        elif tag in ("td", "th"):
            span = dict(attrs)
            self._cell = (int(span.get("rowspan") or 1), int(span.get("colspan") or 1))
            self._text = ""

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            col = 0
            while (self._row, col) in self._taken:
                col += 1
            rows, cols = self._cell
            for r in range(self._row, self._row + rows):
                for c in range(col, col + cols):
                    self._taken[(r, c)] = self._text
            self._cell = None
        elif tag == "table":
            height = max(r for r, _ in self._taken) + 1
            width = max(c for _, c in self._taken) + 1
            self.tables.append([[self._taken.get((r, c), "") for c in range(width)] for r in range(height)])


def _html_tables(html: str) -> list[list[list[str]]]:
    parser = _HtmlTables()
    parser.feed(html)
    return parser.tables


@pytest.mark.parametrize(
    ("kind", "structure"),
    [("ruled", "pymupdf-lines"), ("unruled", None), ("spanning", "pymupdf-lines"), ("scanned", "clustered")],
)
def test_table_cells_are_read(local_converter: Any, kind: str, structure: str | None) -> None:
    data, expected = make_table_pdf(kind)
    graph = local_converter.convert_sync(data, ConvertOptions(), filename=f"{kind}.pdf")
    assert_graph_invariants(graph)
    tables = _tables(graph)
    assert len(tables) == 1, [b.type for b in graph.blocks]
    table = tables[0]
    assert table.grid() == expected
    assert (table.num_rows, table.num_cols) == (len(expected), len(expected[0]))
    assert all(c.column_header for c in table.cells if c.row == 0)
    if structure is not None:
        assert table.structure == structure
    if kind == "spanning":
        header = next(c for c in table.cells if c.row == 0 and c.col == 1)
        assert (header.col_span, header.text) == (2, "Sales")
    # the Markdown holds it as a GFM table a Markdown parser reads back to the same grid
    assert _markdown_tables(MarkdownSerializer().serialize(graph)) == [expected]
    # and the HTML as a table with th/td and colspan, which an HTML parser reads back to the same grid
    html = HtmlSerializer().serialize(graph)
    assert _html_tables(html) == [expected]
    assert ('colspan="2"' in html) is (kind == "spanning")


@pytest.mark.parametrize("rotation", [90, 270])
@pytest.mark.parametrize("stored", ["rotated", "sideways"])
def test_a_landscape_page_whose_text_runs_sideways_reads_as_shown(
    local_converter: Any, rotation: int, stored: str
) -> None:
    """Issue 25: a landscape report page stored turned (``/Rotate``, or printed sideways on a portrait page without
    it). The layout model reads it with its text upright and the reading order is cut on it so turned; before,
    the model saw it sideways (its title and text taken for page headers, the table's order lost)."""
    data, expected = make_landscape_table_pdf(ruled=True, rotation=rotation)
    if stored == "sideways":
        doc = pymupdf.open(stream=data)
        doc[0].set_rotation(0)
        data = doc.tobytes()
    graph = local_converter.convert_sync(data, ConvertOptions(), filename="landscape.pdf")
    assert_graph_invariants(graph)
    assert [b.type for b in graph.blocks] == [
        graph.blocks[0].type,
        BlockType.TEXT,
        BlockType.TABLE,
        BlockType.TEXT,
    ] and graph.blocks[0].type in (BlockType.TITLE, BlockType.SECTION_HEADER)
    assert graph.blocks[0].text == "Quarterly Figures by Region"
    (table,) = _tables(graph)
    assert table.grid() == expected
    assert _markdown_tables(MarkdownSerializer().serialize(graph)) == [expected]
    assert _html_tables(HtmlSerializer().serialize(graph)) == [expected]


@pytest.mark.parametrize("ruled", [True, False], ids=["ruled", "unruled"])
def test_a_wide_table_under_a_two_level_header_keeps_values_under_their_year(local_converter: Any, ruled: bool) -> None:
    """Issue 25: 13 columns, Revenue and Costs each over six years. Both header rows are column headers, each
    group spans its six years (unruled too, where MuPDF gives no spans), and every value sits under its year."""
    data, expected = make_wide_table_pdf(ruled=ruled)
    graph = local_converter.convert_sync(data, ConvertOptions(), filename="wide.pdf")
    assert_graph_invariants(graph)
    (table,) = _tables(graph)
    assert table.grid() == expected
    assert {c.row for c in table.cells if c.column_header} == {0, 1}
    assert sorted((c.text, c.col, c.col_span) for c in table.cells if c.col_span > 1) == [
        ("Costs", 7, 6),
        ("Revenue", 1, 6),
    ]
    assert _markdown_tables(MarkdownSerializer().serialize(graph)) == [expected]
    html = HtmlSerializer().serialize(graph)
    assert _html_tables(html) == [expected] and html.count('colspan="6"') == 2


def test_a_table_continued_on_the_next_page_is_linked_and_joined(local_converter: Any) -> None:
    data, expected = make_table_pdf("two_pages")
    graph = local_converter.convert_sync(data, ConvertOptions(), filename="two_pages.pdf")
    assert_graph_invariants(graph)
    first, second = _tables(graph)
    assert (first.page_no, second.page_no) == (1, 2)
    assert [(e.source, e.target) for e in graph.edges if e.kind is EdgeKind.CONTINUES] == [(first.id, second.id)]
    # one Markdown table: the continuation's repeated header row is dropped
    assert _markdown_tables(MarkdownSerializer().serialize(graph)) == [expected]


@pytest.mark.parametrize("kind", ["ruled", "unruled", "spanning"])
def test_mupdf_grid_for_a_region_lies_inside_it(kind: str) -> None:
    """``_find_upright`` gives ``make_table_from_bbox`` only the words within ``GRID_SLACK`` of the region: exact
    because MuPDF's grid (its box and every row and column position) lies inside the region it was asked about. The
    same cells as with the whole page's words, for the text's box and for boxes cutting through it."""
    data, _ = make_table_pdf(kind)
    page = pymupdf.open(stream=data)[0]
    table = pymupdf.Rect()  # the page's text: its table, with a title and a paragraph around it
    for word in page.get_text("words"):
        table |= pymupdf.Rect(word[:4])
    regions = [_grown(table, 6), table, pymupdf.Rect(table.x0, table.y0, table.x1, (table.y0 + table.y1) / 2)]
    regions.append(pymupdf.Rect(table.x0, table.y0, (table.x0 + table.x1) / 2, table.y1))
    found = 0
    for region in regions:
        near = _grown(region, GRID_SLACK)
        textpage = page.get_textpage(flags=pymupdf_table.TABLE_DETECTOR_FLAGS)
        grid = pymupdf_table.get_table_dict_from_rect(textpage, region)
        if grid.get("type") == pymupdf.mupdf.FZ_STEXT_BLOCK_GRID:
            box = pymupdf.Rect(grid["bbox"])
            assert pymupdf_table.rect_in_rect(box, near)
            assert all(box.x0 <= x <= box.x1 for x, _ in grid["xpos"])
            assert all(box.y0 <= y <= box.y1 for y, _ in grid["ypos"])
        cells = []
        for words in ("all", "near"):  # a fresh text page each: MuPDF moves what it found into a table structure
            textpage = page.get_textpage(flags=pymupdf_table.TABLE_DETECTOR_FLAGS)
            rects = [pymupdf.Rect(w[:4]) for w in textpage.extractWORDS()]
            if words == "near":
                rects = [r for r in rects if pymupdf_table.rect_in_rect(r, near)]
            cells.append(pymupdf_table.make_table_from_bbox(textpage, rects, region))
        assert cells[0] == cells[1]
        found += bool(cells[0])
    assert found  # MuPDF found a grid in one region at least


def _grown(rect: pymupdf.Rect, by: float) -> pymupdf.Rect:
    return pymupdf.Rect(rect.x0 - by, rect.y0 - by, rect.x1 + by, rect.y1 + by)
