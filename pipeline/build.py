"""Assemble page outcomes into a ``DocumentGraph``: ids, display-space boxes, edges, status and warnings."""

from __future__ import annotations

from pipeline.graph import (
    Block,
    DocumentGraph,
    DocumentInfo,
    DocumentStatus,
    Edge,
    GraphWarning,
    Page,
    PageStatus,
)
from pipeline.outcome import PageOutcome
from pipeline.pdf import DocumentMeta

DOCUMENT_REF = "#/document"


def build_graph(meta: DocumentMeta, outcomes: list[PageOutcome], *, filename: str | None) -> DocumentGraph:
    pages: list[Page] = []
    blocks: list[Block] = []
    edges: list[Edge] = []
    warnings = [GraphWarning(code="repaired", message=w) for w in meta.warnings]
    for index, outcome in enumerate(sorted(outcomes, key=lambda o: o.page_no)):
        page_ref = f"#/pages/{index}"
        edges.append(Edge(kind="contains", source=DOCUMENT_REF, target=page_ref))
        geo = outcome.geometry
        refs: list[str] = []
        for order, draft in enumerate(outcome.blocks):
            assert geo is not None  # blocks exist only after the geometry was read
            ref = f"#/blocks/{len(blocks)}"
            blocks.append(
                Block(
                    id=ref,
                    type=draft.type,
                    page_no=outcome.page_no,
                    bbox=geo.bbox_to_display(draft.bbox),
                    text=draft.text,
                    source=draft.source,
                    model=draft.model,
                    confidence=min(max(draft.confidence, 0.0), 1.0),
                    order=order,
                    prov=[p.model_copy(update={"bbox": geo.bbox_to_display(p.bbox)}) for p in draft.prov],
                )
            )
            edges.append(Edge(kind="contains", source=page_ref, target=ref))
            if refs:
                edges.append(Edge(kind="next", source=refs[-1], target=ref))
            refs.append(ref)
        pages.append(
            Page(
                id=page_ref,
                page_no=outcome.page_no,
                width=geo.display_width if geo else 0.0,
                height=geo.display_height if geo else 0.0,
                rotation=geo.rotation if geo else 0,
                kind=outcome.kind,
                route=outcome.route,
                status=outcome.status,
                error=outcome.error,
                blocks=refs,
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
    complete = all(p.status is PageStatus.OK for p in pages)
    return DocumentGraph(
        status=DocumentStatus.COMPLETE if complete else DocumentStatus.PARTIAL,
        document=DocumentInfo(
            id=meta.fingerprint,
            filename=filename,
            page_count=meta.page_count,
            pages_converted=[p.page_no for p in pages],
            title=meta.title,
            repaired=meta.repaired,
            encrypted=meta.encrypted,
        ),
        pages=pages,
        blocks=blocks,
        edges=edges,
        warnings=warnings,
    )
