"""Pages whose primitives could make text-layer analysis expensive: the work is bounded by a cap (asserted as
the cap, not as a time), and a page over it says so (partial, with the reason) instead of being computed."""

from __future__ import annotations

from typing import Any

import pymupdf
import pytest

from docgraph.samples import make_many_draws_pdf
from pipeline import ConvertOptions
from pipeline.geometry import BBox
from pipeline.graph import BlockType, PageStatus
from pipeline.steps import Step
from pipeline.textlayer import extract_text_layer, join_images
from tests.invariants import assert_graph_invariants


def test_joining_images_is_exact_and_transitive() -> None:
    a, b, c = BBox(l=10, t=10, r=100, b=100), BBox(l=90, t=90, r=200, b=150), BBox(l=199, t=149, r=260, b=170)
    far = BBox(l=300, t=300, r=400, b=400)
    # a touches b, b touches c (not a): one figure, the exact union; the far one alone
    assert join_images([far, c, a, b], 612, 792) == [BBox(l=10, t=10, r=260, b=170), far]
    assert join_images([], 612, 792) == []


def test_a_huge_page_gets_a_bounded_raster() -> None:
    boxes = [BBox(l=0, t=0, r=10, b=10), BBox(l=14000, t=14000, r=14400, b=14400)]
    assert join_images(boxes, 14400, 14400) == boxes  # 14,400 pt pages: coarser cells, same answer


@pytest.mark.parametrize("draws", [8_000, 20_000, 25_000])
def test_the_primitive_cap_bounds_the_work(draws: int) -> None:
    cap = 20_000
    doc = pymupdf.open(stream=make_many_draws_pdf(draws))
    layer = extract_text_layer(doc[0], max_primitives=cap)
    drawn = len(doc[0].get_bboxlog())
    if drawn > cap:
        assert layer.warnings and f"only the first {cap}" in layer.warnings[0]
    else:
        assert layer.warnings == ()
    figures = [b for b in layer.blocks if b.is_image]
    assert len(figures) == 1  # the dots, 2 pt apart, are one picture (a halftone), not thousands of blocks
    assert layer.chars > 0


def test_a_page_over_the_cap_is_partial_with_the_reason(local_converter: Any) -> None:
    graph = local_converter.convert_sync(make_many_draws_pdf(25_000), ConvertOptions(layout=False))
    assert_graph_invariants(graph)
    page = graph.pages[0]
    assert page.status is PageStatus.PARTIAL
    assert page.error is not None and page.error.code == "page_too_complex" and page.error.step is Step.TEXT
    assert any(b.type is BlockType.TEXT and "many tiny images" in b.text for b in graph.page_blocks(1))
    assert any(w.code == "page_too_complex" for w in graph.warnings)
