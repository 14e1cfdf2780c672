"""DoclingDocument export, built with docling-core's own API (``DoclingDocument.add_*``), so that its validity
comes from the library and not from hand-written JSON.

Docling's conventions for PDFs are kept: boxes in PDF points with ``coord_origin: BOTTOMLEFT`` (the graph's
are top-left: flipped against each page's height), every item's provenance with its page, box and
``charspan``; page headers and footers in the ``furniture`` content layer; list items under a list group;
captions and footnotes as children of their table or picture, referenced from its ``captions`` /
``footnotes``; table cells with their spans and header flags (``TableData``). Headings keep their level;
the title is ``add_title``; formulas carry LaTeX where a model wrote it. A table continued on the next page
stays two tables (as in the graph; ADR 0006).
"""

from __future__ import annotations

from docling_core.types.doc.base import BoundingBox, CoordOrigin, Size
from docling_core.types.doc.common.content_layer import ContentLayer as DoclingLayer
from docling_core.types.doc.common.reference import ProvenanceItem
from docling_core.types.doc.document import DoclingDocument
from docling_core.types.doc.items.group import GroupItem
from docling_core.types.doc.items.node import DocItem, NodeItem
from docling_core.types.doc.items.table.table_data import TableCell, TableData
from docling_core.types.doc.labels import DocItemLabel

from pipeline.geometry import BBox
from pipeline.graph import (
    Block,
    BlockType,
    ContentLayer,
    DocumentGraph,
    Figure,
    Formula,
    GroupKind,
    ListItem,
    SectionHeader,
    Table,
)

_TEXT_LABELS = {
    BlockType.TEXT: DocItemLabel.TEXT,
    BlockType.CAPTION: DocItemLabel.CAPTION,
    BlockType.FOOTNOTE: DocItemLabel.FOOTNOTE,
    BlockType.PAGE_HEADER: DocItemLabel.PAGE_HEADER,
    BlockType.PAGE_FOOTER: DocItemLabel.PAGE_FOOTER,
}


# The schema version written: the lowest that carries what docgraph writes (list groups with markers came in
# 1.5.0), so that older docling-core releases read it too (a release refuses a newer minor than its own):
# `python bench/docling_compat.py` read it back with docling-core 2.39.0, 2.48.0, 2.58.0, 2.70.0 and the locked
# 2.104.0 (README). The locked docling-core validates what it writes, whatever the label.
SCHEMA_VERSION = "1.5.0"


class DoclingSerializer:
    """``DocumentGraph`` → ``DoclingDocument`` (or its JSON)."""

    def document(self, graph: DocumentGraph) -> DoclingDocument:
        name = (graph.document.filename or "document").rsplit(".", 1)[0] or "document"
        doc = DoclingDocument(name=name)
        doc.version = SCHEMA_VERSION
        heights = {p.page_no: p.height for p in graph.pages}
        for page in graph.pages:
            doc.add_page(page_no=page.page_no, size=Size(width=page.width, height=page.height))
        attached = {ref for b in graph.blocks for ref in (*_captions_of(b), *_footnotes_of(b))}
        list_of = {c: g.id for g in graph.groups if g.kind is GroupKind.LIST for c in g.children}
        lists: dict[str, GroupItem] = {}
        for page in graph.pages:
            for block in [*graph.page_furniture(page.page_no), *graph.page_blocks(page.page_no)]:
                if block.id in attached:
                    continue  # written under the table/picture it belongs to
                if not block.text.strip() and not isinstance(block, Table | Figure | Formula):
                    continue  # a region without text (docling's documents carry no empty text items)
                parent: NodeItem | None = None
                group = list_of.get(block.id)
                if group is not None:
                    if group not in lists:
                        lists[group] = doc.add_list_group()
                    parent = lists[group]
                item = self._add(doc, block, heights[block.page_no], parent)
                for ref in _captions_of(block):
                    caption = graph.block(ref)
                    cap = doc.add_text(
                        DocItemLabel.CAPTION, caption.text, prov=_prov(caption, heights[caption.page_no]), parent=item
                    )
                    item.captions.append(cap.get_ref())  # type: ignore[attr-defined]  # a table or picture
                for ref in _footnotes_of(block):
                    note = graph.block(ref)
                    foot = doc.add_text(
                        DocItemLabel.FOOTNOTE, note.text, prov=_prov(note, heights[note.page_no]), parent=item
                    )
                    item.footnotes.append(foot.get_ref())  # type: ignore[attr-defined]  # a table
        return doc

    def serialize(self, graph: DocumentGraph) -> str:
        return self.document(graph).model_dump_json(by_alias=True, exclude_none=True)

    @staticmethod
    def _add(doc: DoclingDocument, block: Block, height: float, parent: NodeItem | None) -> DocItem:  # noqa: PLR0911
        prov = _prov(block, height)
        layer = DoclingLayer.FURNITURE if block.content_layer is ContentLayer.FURNITURE else DoclingLayer.BODY
        if isinstance(block, SectionHeader):
            return _item(doc.add_heading(block.text, level=block.level, prov=prov, parent=parent))
        if isinstance(block, ListItem):
            return _item(
                doc.add_list_item(
                    block.text, enumerated=block.enumerated, marker=block.marker or None, prov=prov, parent=parent
                )
            )
        if isinstance(block, Table):
            return _item(doc.add_table(_table_data(block, height), prov=prov, parent=parent))
        if isinstance(block, Figure):
            picture = _item(doc.add_picture(prov=prov, parent=parent))
            if block.text.strip():  # text inside the picture: its child, as docling keeps it (not in its Markdown)
                doc.add_text(DocItemLabel.TEXT, block.text, prov=prov, parent=picture)
            return picture
        if isinstance(block, Formula):
            return _item(doc.add_formula(block.latex or block.text, orig=block.text, prov=prov, parent=parent))
        match block.type:
            case BlockType.TITLE:
                return _item(doc.add_title(block.text, prov=prov, parent=parent))
            case BlockType.CODE:
                return _item(doc.add_code(block.text, prov=prov, parent=parent))
            case _:
                label = _TEXT_LABELS.get(block.type, DocItemLabel.TEXT)
                return _item(doc.add_text(label, block.text, prov=prov, parent=parent, content_layer=layer))


def _item(added: object) -> DocItem:
    """What a ``DoclingDocument.add_*`` call made (docling-core types those calls loosely)."""
    assert isinstance(added, DocItem), type(added)
    return added


def _captions_of(block: Block) -> list[str]:
    caption = getattr(block, "caption", None)
    return [caption] if caption else []


def _footnotes_of(block: Block) -> list[str]:
    return list(getattr(block, "footnotes", []))


def _box(box: BBox, height: float) -> BoundingBox:
    """The graph's top-left box → docling's bottom-left one (PDF points)."""
    top_left = BoundingBox(l=box.l, t=box.t, r=box.r, b=box.b, coord_origin=CoordOrigin.TOPLEFT)
    return top_left.to_bottom_left_origin(page_height=height)


def _prov(block: Block, height: float) -> ProvenanceItem:
    return ProvenanceItem(page_no=block.page_no, bbox=_box(block.bbox, height), charspan=(0, len(block.text)))


def _table_data(table: Table, height: float) -> TableData:
    cells = [
        TableCell(
            bbox=_box(c.bbox, height) if c.bbox is not None else None,
            row_span=c.row_span,
            col_span=c.col_span,
            start_row_offset_idx=c.row,
            end_row_offset_idx=c.row + c.row_span,
            start_col_offset_idx=c.col,
            end_col_offset_idx=c.col + c.col_span,
            text=c.text,
            column_header=c.column_header,
            row_header=c.row_header,
        )
        for c in table.cells
    ]
    return TableData(num_rows=table.num_rows, num_cols=table.num_cols, table_cells=cells)
