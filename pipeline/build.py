"""Assemble page outcomes into a ``DocumentGraph``: typed blocks with ids and display-space boxes, the
physical tree and reading order, structure (``pipeline/structure.py``), status and warnings."""

from __future__ import annotations

from typing import Any

from pipeline.graph import (
    BLOCK_CLASSES,
    Block,
    BlockType,
    ContentLayer,
    DocumentGraph,
    DocumentInfo,
    DocumentStatus,
    Edge,
    EdgeKind,
    GraphWarning,
    Page,
    PageStatus,
    TableCell,
    TextSpan,
)
from pipeline.merge import DraftBlock
from pipeline.outcome import PageOutcome
from pipeline.page import PageGeometry
from pipeline.pdf import DocumentMeta
from pipeline.structure import Decision, decide, link

DOCUMENT_REF = "#/document"


def block_ref(page_no: int, position: int) -> str:
    """A block's id: its page and its place among that page's blocks. Known when the page is done, whatever
    the other pages do, so a job's page events and its final graph name every block the same."""
    return f"#/blocks/{page_no}.{position}"


FURNITURE_TYPES = frozenset({BlockType.PAGE_HEADER, BlockType.PAGE_FOOTER})


def _block(ref: str, page_no: int, order: int, draft: DraftBlock, decision: Decision, geo: PageGeometry) -> Block:
    fields: dict[str, Any] = {
        "id": ref,
        "type": decision.type,
        "page_no": page_no,
        "bbox": geo.bbox_to_display(draft.bbox),
        "text": decision.text,
        "source": draft.source,
        "model": draft.model,
        "confidence": min(max(draft.confidence, 0.0), 1.0),
        "order": order,
        "prov": [p.model_copy(update={"bbox": geo.bbox_to_display(p.bbox)}) for p in draft.prov],
    }
    if draft.lines:
        fields["lines"] = [TextSpan(bbox=geo.bbox_to_display(ln.bbox), text=ln.text) for ln in draft.lines]
    if draft.words:
        fields["words"] = [TextSpan(bbox=geo.bbox_to_display(w.bbox), text=w.text) for w in draft.words]
    if decision.type is BlockType.SECTION_HEADER:
        fields["level"] = decision.level or 1
    elif decision.type is BlockType.FORMULA:
        fields["latex"] = draft.latex
    elif decision.type is BlockType.LIST_ITEM:
        fields |= {"marker": decision.marker, "enumerated": decision.enumerated}
    elif decision.type is BlockType.TABLE and draft.table is not None:
        grid = draft.table
        fields |= {
            "num_rows": grid.num_rows,
            "num_cols": grid.num_cols,
            "structure": grid.method,
            "cells": [
                TableCell(
                    row=c.row,
                    col=c.col,
                    row_span=c.row_span,
                    col_span=c.col_span,
                    column_header=c.column_header,
                    row_header=c.row_header,
                    bbox=geo.bbox_to_display(c.bbox) if c.bbox is not None else None,
                    text=c.text,
                    source=draft.source,
                )
                for c in grid.cells
            ],
        }
    block: Block = BLOCK_CLASSES[decision.type](**fields)  # type: ignore[assignment]  # the class for the type
    return block


def build_graph(meta: DocumentMeta, outcomes: list[PageOutcome], *, filename: str | None) -> DocumentGraph:
    outcomes = sorted(outcomes, key=lambda o: o.page_no)
    decisions = decide([(o.page_no, o.geometry.height, o.blocks) for o in outcomes if o.geometry is not None])
    pages: list[Page] = []
    blocks: list[Block] = []
    edges: list[Edge] = []
    body_by_page: list[list[str]] = []
    warnings = [GraphWarning(code="repaired", message=w) for w in meta.warnings]
    for index, outcome in enumerate(outcomes):
        page_ref = f"#/pages/{index}"
        edges.append(Edge(kind=EdgeKind.CONTAINS, source=DOCUMENT_REF, target=page_ref))
        geo = outcome.geometry
        body: list[str] = []
        furniture: list[str] = []
        for position, draft in enumerate(outcome.blocks):
            assert geo is not None  # blocks exist only after the geometry was read
            ref = block_ref(outcome.page_no, position)
            decision = decisions[(outcome.page_no, position)]
            layer = furniture if decision.type in FURNITURE_TYPES else body
            block = _block(ref, outcome.page_no, len(layer), draft, decision, geo)
            blocks.append(block)
            edges.append(Edge(kind=EdgeKind.CONTAINS, source=page_ref, target=ref))
            if layer is body and body:
                edges.append(Edge(kind=EdgeKind.NEXT, source=body[-1], target=ref))
            layer.append(ref)
        body_by_page.append(body)
        pages.append(
            Page(
                id=page_ref,
                page_no=outcome.page_no,
                width=geo.display_width if geo else 0.0,
                height=geo.display_height if geo else 0.0,
                rotation=geo.rotation if geo else 0,
                orientation=outcome.orientation,
                kind=outcome.kind,
                route=outcome.route,
                status=outcome.status,
                error=outcome.error,
                blocks=body,
                furniture=furniture,
                timings=outcome.timings,
                attempts=outcome.attempts,
            )
        )
        warnings.extend(GraphWarning(code="page_warning", message=w, page_no=outcome.page_no) for w in outcome.warnings)
        if outcome.error is not None:
            verb = "failed" if outcome.status is PageStatus.FAILED else "is partial"
            warnings.append(
                GraphWarning(
                    code=outcome.error.code,
                    message=f"page {outcome.page_no} {verb}: {outcome.error.message}",
                    page_no=outcome.page_no,
                )
            )
    links, groups, body_top = link(blocks, body_by_page)
    complete = all(p.status is PageStatus.OK for p in pages)
    title = next((b.text for b in blocks if b.type is BlockType.TITLE and b.content_layer is ContentLayer.BODY), None)
    return DocumentGraph(
        status=DocumentStatus.COMPLETE if complete else DocumentStatus.PARTIAL,
        document=DocumentInfo(
            id=meta.fingerprint,
            filename=filename,
            page_count=meta.page_count,
            pages_converted=[p.page_no for p in pages],
            title=meta.title or title,
            repaired=meta.repaired,
            encrypted=meta.encrypted,
        ),
        pages=pages,
        blocks=blocks,
        groups=groups,
        body=body_top,
        edges=edges + links,
        warnings=warnings,
    )
