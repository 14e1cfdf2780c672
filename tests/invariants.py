"""Invariants every document graph must satisfy, checked by many tests."""

from __future__ import annotations

import itertools
from collections import defaultdict

from pipeline.graph import DocumentGraph, DocumentStatus, PageStatus

EPS = 0.01


def assert_graph_invariants(graph: DocumentGraph) -> None:
    DocumentGraph.model_validate_json(graph.model_dump_json())  # round-trips through its own schema
    pages = {p.page_no: p for p in graph.pages}
    ids = [b.id for b in graph.blocks]
    assert len(ids) == len(set(ids)), "block ids are unique"
    for block in graph.blocks:
        page = pages[block.page_no]
        box = block.bbox
        assert -EPS <= box.l <= box.r <= page.width + EPS, f"{block.id} inside the page horizontally: {box}"
        assert -EPS <= box.t <= box.b <= page.height + EPS, f"{block.id} inside the page vertically: {box}"
        assert block.source is not None and block.prov, f"{block.id} has a source and provenance"
        assert block.id in page.blocks
    nexts: dict[str, str] = {}
    for edge in graph.edges:
        if edge.kind == "next":
            assert edge.source not in nexts, "at most one next per block"
            nexts[edge.source] = edge.target
    by_page: dict[int, list[str]] = defaultdict(list)
    for block in graph.blocks:
        by_page[block.page_no].append(block.id)
    for page in graph.pages:
        refs = page.blocks
        assert sorted(refs) == sorted(by_page[page.page_no])
        # next edges form exactly one path through the page's blocks, in the page's order
        for a, b in itertools.pairwise(refs):
            assert nexts.get(a) == b, f"page {page.page_no}: {a} -> {b} missing"
        if refs:
            assert refs[-1] not in nexts or nexts[refs[-1]] not in refs
        if page.status is PageStatus.FAILED:
            assert page.error is not None, "a failed page says why"
    partial = any(p.status is not PageStatus.OK for p in graph.pages)
    assert graph.status is (DocumentStatus.PARTIAL if partial else DocumentStatus.COMPLETE)
    if partial:
        assert graph.warnings, "a partial result carries warnings"
