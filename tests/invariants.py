"""Invariants every document graph must satisfy, checked by many tests."""

from __future__ import annotations

import itertools
from collections import defaultdict

from pipeline.graph import (
    BlockType,
    ContentLayer,
    DocumentGraph,
    DocumentStatus,
    EdgeKind,
    GroupKind,
    PageStatus,
    SectionHeader,
    Table,
)

EPS = 0.01


def assert_graph_invariants(graph: DocumentGraph) -> None:
    DocumentGraph.model_validate_json(graph.model_dump_json())  # round-trips through its own schema
    pages = {p.page_no: p for p in graph.pages}
    ids = [b.id for b in graph.blocks]
    assert len(ids) == len(set(ids)), "block ids are unique"
    for block in graph.blocks:  # '#/blocks/<page_no>.<k>': stable whatever the other pages do
        page_no, k = block.id.removeprefix("#/blocks/").split(".")
        assert int(page_no) == block.page_no and int(k) >= 0, block.id
    for block in graph.blocks:
        page = pages[block.page_no]
        box = block.bbox
        assert -EPS <= box.l <= box.r <= page.width + EPS, f"{block.id} inside the page horizontally: {box}"
        assert -EPS <= box.t <= box.b <= page.height + EPS, f"{block.id} inside the page vertically: {box}"
        assert block.prov, f"{block.id} has provenance"  # its source: a required field of the model
        furniture = block.type in (BlockType.PAGE_HEADER, BlockType.PAGE_FOOTER)
        assert (block.content_layer is ContentLayer.FURNITURE) is furniture
        assert block.id in (page.furniture if furniture else page.blocks)
        if isinstance(block, Table):
            _assert_table(block)
    nexts: dict[str, str] = {}
    for edge in graph.edges:
        if edge.kind is EdgeKind.NEXT:
            assert edge.source not in nexts, "at most one next per block"
            nexts[edge.source] = edge.target
    by_page: dict[int, list[str]] = defaultdict(list)
    for block in graph.blocks:
        if block.content_layer is ContentLayer.BODY:
            by_page[block.page_no].append(block.id)
    for page in graph.pages:
        refs = page.blocks
        assert sorted(refs) == sorted(by_page[page.page_no])
        # next edges form exactly one path through the page's body, in the page's order
        for a, b in itertools.pairwise(refs):
            assert nexts.get(a) == b, f"page {page.page_no}: {a} -> {b} missing"
        if refs:
            assert refs[-1] not in nexts or nexts[refs[-1]] not in refs
        assert not set(page.furniture) & set(nexts) and not set(page.furniture) & set(nexts.values())
        if page.status is PageStatus.FAILED:
            assert page.error is not None, "a failed page says why"
    _assert_links(graph)
    _assert_tree(graph)
    partial = any(p.status is not PageStatus.OK for p in graph.pages)
    assert graph.status is (DocumentStatus.PARTIAL if partial else DocumentStatus.COMPLETE)
    if partial:
        assert graph.warnings, "a partial result carries warnings"


def _assert_table(table: Table) -> None:
    """Cells inside their table, spans inside num_rows × num_cols, no slot covered twice."""
    if table.num_rows == 0:
        assert not table.cells and table.num_cols == 0
        return
    covered: set[tuple[int, int]] = set()
    box = table.bbox
    for cell in table.cells:
        assert cell.row + cell.row_span <= table.num_rows and cell.col + cell.col_span <= table.num_cols, cell
        slots = {
            (r, c) for r in range(cell.row, cell.row + cell.row_span) for c in range(cell.col, cell.col + cell.col_span)
        }
        assert not slots & covered, f"{table.id}: slot covered twice by {cell}"
        covered |= slots
        c = cell.bbox
        if c is None:
            assert table.structure == "html", "only a model's HTML table has cells without boxes"
            continue
        pad = 2.0  # points: find_tables' cells may reach past the detector's box by a rule's width
        assert box.l - pad <= c.l <= c.r <= box.r + pad and box.t - pad <= c.t <= c.b <= box.b + pad, (
            f"{table.id}: cell {c} outside its table {box}"
        )


def _assert_links(graph: DocumentGraph) -> None:
    blocks = {b.id: b for b in graph.blocks}
    for edge in graph.edges:
        if edge.kind is EdgeKind.CAPTION_OF:
            caption, target = blocks[edge.source], blocks[edge.target]
            assert caption.type is BlockType.CAPTION and target.type in (BlockType.TABLE, BlockType.FIGURE)
            assert getattr(target, "caption", None) == caption.id
        elif edge.kind is EdgeKind.FOOTNOTE_OF:
            assert blocks[edge.source].type is BlockType.FOOTNOTE and blocks[edge.target].type is BlockType.TABLE
        elif edge.kind is EdgeKind.CONTINUES:
            a, b = blocks[edge.source], blocks[edge.target]
            assert isinstance(a, Table) and isinstance(b, Table) and b.page_no == a.page_no + 1


def _assert_tree(graph: DocumentGraph) -> None:
    """Every body block is reachable from the document's body exactly once; a section holds its heading first
    and no heading of its own level or higher after it."""
    groups = {g.id: g for g in graph.groups}
    blocks = {b.id: b for b in graph.blocks}
    seen: list[str] = []

    def walk(refs: list[str], level: int) -> None:
        for ref in refs:
            if ref in groups:
                group = groups[ref]
                if group.kind is GroupKind.SECTION:
                    assert group.heading == group.children[0] and group.level is not None and group.level > level
                    heading = blocks[group.heading]
                    assert isinstance(heading, SectionHeader) and heading.level == group.level
                    seen.append(group.heading)
                    walk(group.children[1:], group.level)
                else:
                    assert all(blocks[c].type is BlockType.LIST_ITEM for c in group.children)
                    walk(group.children, level)
            else:
                block = blocks[ref]
                assert not isinstance(block, SectionHeader) or block.level > level
                seen.append(ref)

    walk(graph.body, 0)
    body = [b.id for b in graph.blocks if b.content_layer is ContentLayer.BODY]
    assert sorted(seen) == sorted(body), "every body block is in the tree exactly once"
