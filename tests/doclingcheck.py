"""A graph's DoclingDocument read back by docling-core: valid, every item reachable from the body or furniture
tree, tables with their cells, and its own Markdown close to docgraph's."""

from __future__ import annotations

from docling_core.types.doc.common.content_layer import ContentLayer
from docling_core.types.doc.document import DoclingDocument

from pipeline.export.docling import DoclingSerializer
from pipeline.export.markdown import MarkdownSerializer
from pipeline.graph import DocumentGraph, Figure, Table
from tests.textsim import similarity


def docling_readback(graph: DocumentGraph) -> float:
    """Asserts the read-back; returns the similarity of docling's Markdown to docgraph's."""
    doc = DoclingDocument.model_validate_json(DoclingSerializer().serialize(graph))
    reached = {
        item.self_ref
        for item, _ in doc.iterate_items(included_content_layers=set(ContentLayer), traverse_pictures=True)
    }
    items = {item.self_ref for item in (*doc.texts, *doc.tables, *doc.pictures)}
    assert items <= reached, f"not reachable from the document's trees: {sorted(items - reached)[:5]}"
    cells = sorted(len(b.cells) for b in graph.blocks if isinstance(b, Table))
    assert sorted(len(t.data.table_cells) for t in doc.tables) == cells, "every table keeps its cells"
    if not graph.blocks:
        return 1.0
    # docling's Markdown leaves out the text inside pictures (its convention; the JSON keeps it as the
    # picture's child): compare with docgraph's Markdown without it
    blocks = [b.model_copy(update={"text": ""}) if isinstance(b, Figure) else b for b in graph.blocks]
    ours = MarkdownSerializer().serialize(graph.model_copy(update={"blocks": blocks}))
    return similarity(doc.export_to_markdown(), ours)
