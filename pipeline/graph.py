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
from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.geometry import BBox
from pipeline.steps import Step

SCHEMA_NAME: Final = "docgraph.DocumentGraph"
SCHEMA_VERSION = "1.1.0"  # 1.1: step names are an enum (Step), Warning is GraphWarning; same wire values


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


class Block(_Model):
    id: str = Field(description="Ref of this block: '#/blocks/<index>'.")
    type: BlockType
    page_no: int = Field(ge=1, description="1-based page number.")
    bbox: BBox = Field(description="PDF points, origin top-left of the page as displayed, inside the page.")
    text: str = Field(description="Text in reading order ('' for figures without text).")
    source: Source = Field(description="Where the text came from (layout when the block has no text).")
    model: str | None = Field(default=None, description="Model that typed or read the block.")
    confidence: float = Field(ge=0.0, le=1.0)
    order: int = Field(ge=0, description="Position in the page's reading order.")
    prov: list[Provenance] = Field(description="Every piece of evidence merged into this block.")


class StepTimings(_Model):
    text_s: float = 0.0
    render_s: float = 0.0
    layout_s: float = 0.0
    ocr_s: float = 0.0
    merge_s: float = 0.0


class Page(_Model):
    id: str = Field(description="Ref of this page: '#/pages/<index>'.")
    page_no: int = Field(ge=1)
    width: float = Field(description="Width in PDF points as displayed (after /Rotate).")
    height: float = Field(description="Height in PDF points as displayed (after /Rotate).")
    rotation: int = Field(description="The page's /Rotate in degrees.")
    kind: PageKind | None = Field(default=None, description="Classification from the text layer and image coverage.")
    route: list[Step] = Field(
        default_factory=list,
        description="Steps started, in order (a failed one too): text, render, layout, ocr, merge.",
    )
    status: PageStatus
    error: ErrorInfo | None = None
    blocks: list[str] = Field(default_factory=list, description="Block refs in reading order.")
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


class Edge(_Model):
    kind: Literal["contains", "next"]
    source: str
    target: str


class DocumentGraph(_Model):
    schema_name: Literal["docgraph.DocumentGraph"] = SCHEMA_NAME
    schema_version: str = SCHEMA_VERSION
    status: DocumentStatus
    document: DocumentInfo
    pages: list[Page]
    blocks: list[Block]
    edges: list[Edge]
    warnings: list[GraphWarning] = Field(default_factory=list)

    def page_blocks(self, page_no: int) -> list[Block]:
        """Blocks of one page, in reading order."""
        return sorted((b for b in self.blocks if b.page_no == page_no), key=lambda b: b.order)


def schema_json() -> str:
    """The published JSON Schema of ``DocumentGraph``."""
    return json.dumps(DocumentGraph.model_json_schema(), indent=2, sort_keys=True) + "\n"
