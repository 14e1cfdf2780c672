"""format=docling: a DoclingDocument built with docling-core's API, read back by docling-core itself."""

from __future__ import annotations

import json
from typing import Any

import pytest
from docling_core.types.doc.base import CoordOrigin
from docling_core.types.doc.document import DoclingDocument
from docling_core.types.doc.labels import DocItemLabel

from docgraph.samples import make_sample_pdf, make_table_pdf
from pipeline.export import EXPORTERS, DoclingSerializer
from pipeline.graph import Figure, SectionHeader, Table
from pipeline.options import ConvertOptions

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def sample(local_converter: Any) -> tuple[Any, DoclingDocument]:
    graph = local_converter.convert_sync(make_sample_pdf(), ConvertOptions(), filename="sample.pdf")
    return graph, DoclingDocument.model_validate_json(EXPORTERS["docling"].export(graph))


def test_docling_reads_it_back_with_pages_title_and_headings(sample: tuple[Any, DoclingDocument]) -> None:
    graph, doc = sample
    # labelled with the lowest schema that carries it, so older docling-core releases read it too
    # (bench/docling_compat.py: 2.39.0 to 2.70.0); the locked one reads it as its own version
    assert json.loads(EXPORTERS["docling"].export(graph))["version"] == "1.5.0"
    assert doc.name == "sample" and sorted(doc.pages) == [1, 2, 3]
    assert doc.pages[1].size.width == graph.pages[0].width and doc.pages[1].size.height == graph.pages[0].height
    titles = [t.text for t in doc.texts if t.label is DocItemLabel.TITLE]
    assert titles == ["Sample Report on Document Graphs"]
    ours = [(b.text, b.level) for b in graph.blocks if isinstance(b, SectionHeader)]
    theirs = [(t.text, t.level) for t in doc.texts if t.label is DocItemLabel.SECTION_HEADER]
    assert theirs == ours and ("1 Introduction", 1) in theirs


def test_provenance_is_bottom_left_pdf_points_with_charspans(sample: tuple[Any, DoclingDocument]) -> None:
    graph, doc = sample
    title = next(t for t in doc.texts if t.label is DocItemLabel.TITLE)
    ours = next(b for b in graph.blocks if b.text == title.text and b.page_no == 1)
    (prov,) = title.prov
    assert prov.page_no == 1 and prov.bbox.coord_origin is CoordOrigin.BOTTOMLEFT
    height = graph.pages[0].height
    assert prov.bbox.t == pytest.approx(height - ours.bbox.t) and prov.bbox.b == pytest.approx(height - ours.bbox.b)
    assert prov.charspan == (0, len(title.text))


def test_tables_keep_their_cells_and_figures_their_captions(sample: tuple[Any, DoclingDocument]) -> None:
    graph, doc = sample
    ours = [b for b in graph.blocks if isinstance(b, Table)]
    assert [t.data.num_rows for t in doc.tables] == [t.num_rows for t in ours]
    for table, mine in zip(doc.tables, ours, strict=True):
        assert [[c.text for c in row] for row in table.data.grid] == mine.grid()
    figure = next(b for b in graph.blocks if isinstance(b, Figure) and b.caption)
    picture = doc.pictures[[b.id for b in graph.blocks if isinstance(b, Figure)].index(figure.id)]
    (ref,) = picture.captions
    assert ref.resolve(doc).text == graph.block(figure.caption).text
    assert "| Route" in doc.export_to_markdown()  # docling's own Markdown renders the cells


def test_spans_and_headers_reach_docling(local_converter: Any) -> None:
    data, expected = make_table_pdf("spanning")
    graph = local_converter.convert_sync(data, ConvertOptions(), filename="spanning.pdf")
    doc = DoclingSerializer().document(graph)
    (table,) = doc.tables
    assert [[c.text for c in row] for row in table.data.grid] == expected
    sales = next(c for c in table.data.table_cells if c.text == "Sales")
    assert (sales.col_span, sales.start_col_offset_idx, sales.end_col_offset_idx, sales.column_header) == (
        2,
        1,
        3,
        True,
    )
