"""Chunks for RAG: docling-core's ``HierarchicalChunker`` over the graph's DoclingDocument (no model, no tokenizer).

One chunk per text item, table or list, with the headings above it, the captions it carries, its pages and the
boxes of the items it holds (PDF points, origin top-left, like every box in the graph).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from docling_core.types.doc.document import DoclingDocument
from docling_core.types.doc.items.node import DocItem, FloatingItem
from pydantic import BaseModel, ConfigDict, Field

from pipeline.export.docling import DoclingSerializer
from pipeline.geometry import BBox
from pipeline.graph import DocumentGraph

if TYPE_CHECKING:
    from docling_core.transforms.chunker.doc_chunk import DocChunk


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChunkItem(_Model):
    ref: str = Field(description="The item's ref in the DoclingDocument (format=docling), e.g. '#/texts/4'.")
    label: str = Field(description="docling's label of the item: text, section_header, table, list_item, ...")
    page_no: int
    bbox: BBox


class Chunk(_Model):
    index: int
    text: str = Field(description="The chunk with its headings and captions before it (what to embed).")
    raw_text: str = Field(description="The chunk's own text.")
    headings: list[str] = Field(default_factory=list, description="The section headings above it, outermost first.")
    captions: list[str] = Field(default_factory=list)
    page_numbers: list[int] = Field(default_factory=list)
    items: list[ChunkItem] = Field(default_factory=list)


class Chunks(_Model):
    chunker: str = "docling_core.HierarchicalChunker"
    chunks: list[Chunk]


class ChunkSerializer:
    def chunks(self, graph: DocumentGraph, doc: DoclingDocument | None = None) -> list[Chunk]:
        # imported here: docling-core's chunker package loads its code and hybrid chunkers (tree-sitter,
        # transformers: seconds), which a PyMuPDF worker process that imports the pipeline must not pay
        from docling_core.transforms.chunker.doc_chunk import DocChunk
        from docling_core.transforms.chunker.hierarchical_chunker import HierarchicalChunker

        doc = doc if doc is not None else DoclingSerializer().document(graph)
        heights = {p.page_no: p.height for p in graph.pages}
        chunker = HierarchicalChunker()
        out = []
        for index, base in enumerate(chunker.chunk(doc)):
            chunk = DocChunk.model_validate(base)
            items = [_item(item, heights) for item in chunk.meta.doc_items if item.prov]
            out.append(
                Chunk(
                    index=index,
                    text=chunker.contextualize(chunk),
                    raw_text=chunk.text,
                    headings=list(chunk.meta.headings or []),
                    captions=_captions(chunk, doc),
                    page_numbers=sorted({p.page_no for item in chunk.meta.doc_items for p in item.prov}),
                    items=items,
                )
            )
        return out

    def serialize(self, graph: DocumentGraph) -> str:
        return Chunks(chunks=self.chunks(graph)).model_dump_json(indent=2)


def _captions(chunk: DocChunk, doc: DoclingDocument) -> list[str]:
    """The captions of the tables and pictures in the chunk (DocMeta.captions is deprecated in docling-core)."""
    floating = [item for item in chunk.meta.doc_items if isinstance(item, FloatingItem)]
    return [text for item in floating if (text := item.caption_text(doc))]


def _item(item: DocItem, heights: dict[int, float]) -> ChunkItem:
    prov = item.prov[0]
    box = prov.bbox.to_top_left_origin(page_height=heights[prov.page_no])
    return ChunkItem(
        ref=item.self_ref,
        label=str(item.label.value),
        page_no=prov.page_no,
        bbox=BBox(l=box.l, t=box.t, r=box.r, b=box.b),
    )
