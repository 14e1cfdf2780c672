"""Issue 25 on real documents from public repositories (``truth.json``, ``SOURCES.md``): each table read cell for
cell against the truth read by hand from the rendered page (whitespace aside), the same through the Markdown and
HTML round trips, and the reading order of a three-column page. A document docgraph still gets wrong is an
``xfail(strict=True)`` naming the defect, so that a fix shows up as XPASS."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.export.html import HtmlSerializer
from pipeline.export.markdown import MarkdownSerializer
from pipeline.graph import DocumentGraph, Table
from pipeline.options import ConvertOptions
from tests.invariants import assert_graph_invariants
from tests.pipeline.test_tables import _html_tables, _markdown_tables
from tests.realdocs.truth import HERE, Kind, RealDoc, norm_grid, real_documents
from tests.textsim import normalise

# file -> the defect that makes docgraph read it wrong today (none of these is special-cased in the pipeline)
KNOWN_DEFECTS: dict[str, str] = {}
_GRAPHS: dict[str, DocumentGraph] = {}


def _param(doc: RealDoc) -> Any:
    defect = KNOWN_DEFECTS.get(doc.file)
    marks = [pytest.mark.xfail(strict=True, reason=defect)] if defect else []
    return pytest.param(doc, id=doc.path.stem, marks=marks)


TABLE_DOCS = [_param(d) for d in real_documents() if d.tables]
ORDER_DOCS = [_param(d) for d in real_documents() if d.order]


def _graph(converter: Any, doc: RealDoc) -> DocumentGraph:
    if doc.file not in _GRAPHS:
        graph = converter.convert_sync(doc.data(), ConvertOptions(), filename=doc.file)
        assert_graph_invariants(graph)
        _GRAPHS[doc.file] = graph
    return _GRAPHS[doc.file]


def _truth_grids(doc: RealDoc) -> list[list[list[str]]]:
    return [norm_grid(t.grid) for t in doc.tables]


def test_every_document_has_its_source_and_licence() -> None:
    """Each PDF is the one its source names (the hash), has a licence, and SOURCES.md lists it; no PDF lies here
    without its truth."""
    sources = (HERE / "SOURCES.md").read_text(encoding="utf-8")
    docs = real_documents()
    assert {d.file for d in docs} == {p.name for p in (HERE / "pdfs").glob("*.pdf")}
    for doc in docs:
        assert doc.data()[:5] == b"%PDF-" and doc.source.licence
        assert doc.file in sources and doc.source.repo in sources and doc.source.commit in sources
        assert doc.tables or doc.order, doc.file
    assert {d.kind for d in docs} == set(Kind)


@pytest.mark.models
@pytest.mark.parametrize("doc", TABLE_DOCS)
def test_tables_are_read_cell_for_cell(local_converter: Any, doc: RealDoc) -> None:
    graph = _graph(local_converter, doc)
    tables = [b for b in graph.blocks if isinstance(b, Table)]
    assert [(t.page_no, norm_grid(t.grid())) for t in tables] == [(t.page, norm_grid(t.grid)) for t in doc.tables]
    for got, want in zip(tables, doc.tables, strict=True):
        spans = {(c.row, c.col, c.row_span, c.col_span) for c in got.cells if c.row_span > 1 or c.col_span > 1}
        assert spans == set(want.spans), (doc.file, want.grid[0])


@pytest.mark.models
@pytest.mark.parametrize("doc", TABLE_DOCS)
def test_tables_survive_the_markdown_and_html_round_trips(local_converter: Any, doc: RealDoc) -> None:
    """A Markdown parser (GFM tables) and an HTML parser (rowspan/colspan) read the exports back to the truth."""
    graph = _graph(local_converter, doc)
    want = _truth_grids(doc)
    assert [norm_grid(g) for g in _markdown_tables(MarkdownSerializer().serialize(graph))] == want
    assert [norm_grid(g) for g in _html_tables(HtmlSerializer().serialize(graph))] == want


@pytest.mark.models
@pytest.mark.parametrize("doc", ORDER_DOCS)
def test_reading_order_follows_the_columns(local_converter: Any, doc: RealDoc) -> None:
    """Each (before, after) pair of the truth reads in that order in the Markdown (olmOCR-bench's order check)."""
    text = normalise(MarkdownSerializer().serialize(_graph(local_converter, doc)))
    wrong = []
    for before, after in doc.order:
        a, b = text.find(normalise(before)), text.find(normalise(after))
        if not (0 <= a < b):
            wrong.append((before, after, a, b))
    assert not wrong, wrong
