"""The document graph: document → pages → typed blocks, with reading order and provenance.

Shape (docling-core style): flat typed pools (``pages``, ``blocks``) plus ``edges`` between string refs
(``#/document``, ``#/pages/0``, ``#/blocks/12``). ``contains`` edges give the tree, ``next`` edges the
reading order inside each page. Every box is in PDF points, origin top-left (``BBox.origin``) of the page as
displayed (after ``/Rotate``). The root states ``schema_name`` and ``schema_version``; ``schema_json()``
publishes the JSON Schema.

Nothing is dropped silently: a page that failed is still in ``pages`` with ``status="failed"`` and its
``error``; the document's ``status`` is ``partial`` whenever any page is not ``ok``, and ``warnings`` say why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from pipeline.geometry import BBox
from pipeline.steps import Step

SCHEMA_NAME: Final = "docgraph.DocumentGraph"
SCHEMA_VERSION = "2.1.0"  # 2.0: typed blocks (a union on type), table cells, groups and a section tree (ADR 0006);
# 2.1: a page's orientation (scans turned upright before layout and OCR), timings.orient_s


class BlockType(StrEnum):
    TITLE = "title"
    SECTION_HEADER = "section_header"
    TEXT = "text"
    LIST_ITEM = "list_item"
    TABLE = "table"
    FIGURE = "figure"
    CAPTION = "caption"
    FORMULA = "formula"
    PAGE_HEADER = "page_header"
    PAGE_FOOTER = "page_footer"
    FOOTNOTE = "footnote"
    CODE = "code"


class Source(StrEnum):
    TEXT_LAYER = "text_layer"
    OCR = "ocr"
    LAYOUT = "layout"


class PageKind(StrEnum):
    DIGITAL = "digital"
    SCANNED = "scanned"
    MIXED = "mixed"
    EMPTY = "empty"


class PageStatus(StrEnum):
    OK = "ok"
    PARTIAL = "partial"  # converted, but a step failed (e.g. layout down: text without types)
    FAILED = "failed"


class DocumentStatus(StrEnum):
    COMPLETE = "complete"
    PARTIAL = "partial"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorInfo(_Model):
    code: str = Field(description="Stable machine-readable code, e.g. 'render_failed', 'step_timeout'.")
    message: str = Field(description="Human-readable reason.")
    step: Step | None = Field(
        default=None,
        description="Pipeline step that failed: text, render, layout, ocr, merge (document: its deadline passed).",
    )


class GraphWarning(_Model):
    code: str
    message: str
    page_no: int | None = Field(default=None, description="1-based page the warning is about, if any.")


class Provenance(_Model):
    source: Source = Field(description="What produced this evidence.")
    model: str | None = Field(default=None, description="Model name@version, or 'pymupdf' for the text layer.")
    bbox: BBox = Field(description="The box this source reported, in PDF points, origin top-left as displayed.")
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    label: str | None = Field(default=None, description="The source's own label before normalisation.")
    text: str | None = Field(
        default=None, description="What this source read here, when it is not the block's text (ocr=always)."
    )


class ContentLayer(StrEnum):
    BODY = "body"
    FURNITURE = "furniture"  # page headers and footers: outside the body's reading order


class TextSpan(_Model):
    """A line or a word of a block, with its box (``detail=lines|words``)."""

    bbox: BBox
    text: str


class _BlockBase(_Model):
    id: str = Field(
        description="Ref of this block: '#/blocks/<page_no>.<k>', its k-th block of that page (0-based; body and "
        "furniture together). Stable: a job's page events use the same ids as its final graph."
    )
    page_no: int = Field(ge=1, description="1-based page number.")
    bbox: BBox = Field(description="PDF points, origin top-left of the page as displayed, inside the page.")
    text: str = Field(description="Text in reading order ('' for figures without text; a table's rows).")
    source: Source = Field(description="Where the text came from (layout when the block has no text).")
    model: str | None = Field(default=None, description="Model that typed or read the block.")
    confidence: float = Field(ge=0.0, le=1.0)
    order: int = Field(
        ge=0, description="Position in the page's reading order (body), or in the page's furniture list."
    )
    content_layer: ContentLayer = ContentLayer.BODY
    prov: list[Provenance] = Field(description="Every piece of evidence merged into this block.")
    lines: list[TextSpan] | None = Field(
        default=None, description="Its lines in reading order, with boxes (detail=lines or words; else absent)."
    )
    words: list[TextSpan] | None = Field(
        default=None, description="Its words with boxes (detail=words, text-layer pages; else absent)."
    )


class TextItem(_BlockBase):
    """Running text and the text-like kinds that need nothing more than their text."""

    type: Literal[BlockType.TEXT, BlockType.TITLE, BlockType.CAPTION, BlockType.FOOTNOTE, BlockType.CODE]


class SectionHeader(_BlockBase):
    type: Literal[BlockType.SECTION_HEADER]
    level: int = Field(ge=1, le=6, description="1 = top level; from numbering (1 / 1.1 / 1.1.1) or font size rank.")


class ListItem(_BlockBase):
    type: Literal[BlockType.LIST_ITEM]
    marker: str = Field(default="", description="The item's bullet or number as printed ('•', '3.', 'a)').")
    enumerated: bool = Field(default=False, description="Numbered or lettered rather than bulleted.")


class SpannedCell(Protocol):
    """What laying cells out on a grid needs: the graph's ``TableCell`` and ``pipeline.tables.GridCell``."""

    @property
    def row(self) -> int: ...
    @property
    def col(self) -> int: ...
    @property
    def row_span(self) -> int: ...
    @property
    def col_span(self) -> int: ...
    @property
    def text(self) -> str: ...


def span_grid(num_rows: int, num_cols: int, cells: Iterable[SpannedCell]) -> list[list[str]]:
    """Rows × columns of text, a spanning cell's text in every slot it covers (docling's grid)."""
    rows = [["" for _ in range(num_cols)] for _ in range(num_rows)]
    for cell in cells:
        for r in range(cell.row, min(cell.row + cell.row_span, num_rows)):
            for c in range(cell.col, min(cell.col + cell.col_span, num_cols)):
                rows[r][c] = cell.text
    return rows


class TableCell(_Model):
    row: int = Field(ge=0, description="0-based row of the cell's top-left slot.")
    col: int = Field(ge=0)
    row_span: int = Field(default=1, ge=1)
    col_span: int = Field(default=1, ge=1)
    column_header: bool = False
    row_header: bool = False
    bbox: BBox | None = Field(
        default=None, description="The cell's box; null where the source gives none (DeepSeek-OCR's HTML tables)."
    )
    text: str
    source: Source


class Table(_BlockBase):
    type: Literal[BlockType.TABLE]
    num_rows: int = Field(default=0, ge=0, description="0 when the table's structure could not be read.")
    num_cols: int = Field(default=0, ge=0)
    cells: list[TableCell] = Field(default_factory=list, description="Each cell once, at its top-left slot.")
    structure: str | None = Field(
        default=None, description="How the cells were found: pymupdf-lines, pymupdf-bounds, clustered, html."
    )
    caption: str | None = Field(default=None, description="Ref of the caption block describing this table.")
    footnotes: list[str] = Field(default_factory=list, description="Refs of this table's footnote blocks.")

    def grid(self) -> list[list[str]]:
        """Rows × columns of text, a spanning cell's text in every slot it covers."""
        return span_grid(self.num_rows, self.num_cols, self.cells)


class Figure(_BlockBase):
    type: Literal[BlockType.FIGURE]
    caption: str | None = Field(default=None, description="Ref of the caption block describing this figure.")
    image: str | None = Field(default=None, description="Path of its crop in the zip bundle (figures/…png).")


class Formula(_BlockBase):
    type: Literal[BlockType.FORMULA]
    latex: str | None = Field(default=None, description="LaTeX, when a model gave it (DeepSeek-OCR).")


class Furniture(_BlockBase):
    type: Literal[BlockType.PAGE_HEADER, BlockType.PAGE_FOOTER]
    content_layer: ContentLayer = ContentLayer.FURNITURE


Block = Annotated[
    TextItem | SectionHeader | ListItem | Table | Figure | Formula | Furniture, Field(discriminator="type")
]
BLOCK_CLASSES: Final[dict[BlockType, type[_BlockBase]]] = {
    **dict.fromkeys((BlockType.TEXT, BlockType.TITLE, BlockType.CAPTION, BlockType.FOOTNOTE, BlockType.CODE), TextItem),
    BlockType.SECTION_HEADER: SectionHeader,
    BlockType.LIST_ITEM: ListItem,
    BlockType.TABLE: Table,
    BlockType.FIGURE: Figure,
    BlockType.FORMULA: Formula,
    BlockType.PAGE_HEADER: Furniture,
    BlockType.PAGE_FOOTER: Furniture,
}


class StepTimings(_Model):
    text_s: float = 0.0
    render_s: float = 0.0
    layout_s: float = 0.0
    ocr_s: float = 0.0
    merge_s: float = 0.0
    tables_s: float = 0.0
    orient_s: float = 0.0


class PageOrientation(_Model):
    angle: int = Field(
        description="How far the scan's content is turned clockwise on the page as displayed (after /Rotate): "
        "0, 90, 180 or 270 degrees."
    )
    confidence: float = Field(ge=0.0, le=1.0)
    model: str
    applied: bool = Field(
        description="The image was turned upright for layout and OCR (it was rendered sideways, and the classifier was "
        "sure enough); every box is still in the page's display space."
    )


class Page(_Model):
    id: str = Field(description="Ref of this page: '#/pages/<index>'.")
    page_no: int = Field(ge=1)
    width: float = Field(description="Width in PDF points as displayed (after /Rotate).")
    height: float = Field(description="Height in PDF points as displayed (after /Rotate).")
    rotation: int = Field(description="The page's /Rotate in degrees.")
    orientation: PageOrientation | None = Field(
        default=None, description="Scanned pages: how far the content was turned, as the orientation model saw it."
    )
    kind: PageKind | None = Field(default=None, description="Classification from the text layer and image coverage.")
    route: list[Step] = Field(
        default_factory=list,
        description="Steps started, in order (a failed one too): text, render, layout, ocr, merge.",
    )
    status: PageStatus
    error: ErrorInfo | None = None
    blocks: list[str] = Field(default_factory=list, description="Refs of the page's body blocks in reading order.")
    furniture: list[str] = Field(
        default_factory=list, description="Refs of the page's headers and footers (outside the reading order)."
    )
    timings: StepTimings = Field(default_factory=StepTimings)
    attempts: dict[Step, int] = Field(
        default_factory=dict,
        description="Model calls per step when more than one was needed (a replica died; the call was retried).",
    )


class DocumentInfo(_Model):
    id: str = Field(description="sha256 of the uploaded bytes.")
    filename: str | None = None
    page_count: int = Field(description="Pages in the PDF (all of them, also when a range was asked for).")
    pages_converted: list[int] = Field(description="1-based page numbers that were asked for.")
    title: str | None = None
    repaired: bool = Field(default=False, description="PyMuPDF had to repair the file to open it.")
    encrypted: bool = False


class EdgeKind(StrEnum):
    CONTAINS = "contains"  # document → page → block (the physical tree)
    NEXT = "next"  # reading order inside a page's body
    CAPTION_OF = "caption_of"  # caption → the table or figure it describes
    FOOTNOTE_OF = "footnote_of"  # footnote → its table
    CONTINUES = "continues"  # a table (or paragraph) → its continuation on the next page


class Edge(_Model):
    kind: EdgeKind
    source: str
    target: str


class GroupKind(StrEnum):
    SECTION = "section"  # a heading and everything after it up to the next heading of the same or a higher level
    LIST = "list"  # consecutive list items


class Group(_Model):
    id: str = Field(description="Ref of this group: '#/groups/<index>'.")
    kind: GroupKind
    heading: str | None = Field(default=None, description="A section's heading block.")
    level: int | None = Field(default=None, ge=1, le=6, description="A section's heading level.")
    children: list[str] = Field(description="Refs of blocks and groups in document order (a section's heading first).")


class DocumentGraph(_Model):
    schema_name: Literal["docgraph.DocumentGraph"] = SCHEMA_NAME
    schema_version: str = SCHEMA_VERSION
    status: DocumentStatus
    document: DocumentInfo
    pages: list[Page]
    blocks: list[Block]
    groups: list[Group] = Field(default_factory=list)
    body: list[str] = Field(
        default_factory=list,
        description="The logical tree's top level, in reading order: sections and the blocks before the first "
        "heading (furniture is not in it).",
    )
    edges: list[Edge]
    warnings: list[GraphWarning] = Field(default_factory=list)
    _by_id: dict[str, Block] | None = PrivateAttr(default=None)

    def page_blocks(self, page_no: int) -> list[Block]:
        """Body blocks of one page, in reading order."""
        body = (b for b in self.blocks if b.page_no == page_no and b.content_layer is ContentLayer.BODY)
        return sorted(body, key=lambda b: b.order)

    def page_furniture(self, page_no: int) -> list[Block]:
        """Page headers and footers of one page, top to bottom."""
        found = (b for b in self.blocks if b.page_no == page_no and b.content_layer is ContentLayer.FURNITURE)
        return sorted(found, key=lambda b: b.order)

    def block(self, ref: str) -> Block:
        """The block with id ``ref`` (``KeyError`` if none)."""
        if self._by_id is None or len(self._by_id) != len(self.blocks):
            self._by_id = {b.id: b for b in self.blocks}
        return self._by_id[ref]


def schema_json() -> str:
    """The published JSON Schema of ``DocumentGraph``."""
    return json.dumps(DocumentGraph.model_json_schema(), indent=2, sort_keys=True) + "\n"
