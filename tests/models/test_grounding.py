"""DeepSeek-OCR's grounded output → blocks: the parser, the 0-999 grid, malformed output, loop detection.

The outputs are written by hand in the documented format (``<|ref|>label<|/ref|><|det|>[[x1, y1, x2, y2]]
<|/det|>`` then the block's markdown), including the ways real generations go wrong.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from models.grounding import looks_repetitive, parse_grounded
from models.ocr_deepseek import Generation, to_ocr_result
from pipeline.geometry import BBox
from pipeline.graph import BlockType
from pipeline.options import DeepSeekMode
from pipeline.page import PageImage
from pipeline.protocols import OcrRequest
from pipeline.tables import grid_from_html
from tests.scripted import ScriptedDeepSeek

PAGE = """<|ref|>title<|/ref|><|det|>[[118, 52, 880, 96]]<|/det|>
# Quarterly Report

<|ref|>text<|/ref|><|det|>[[118, 120, 880, 260]]<|/det|>
Revenue grew by 12% in the third quarter, driven by
new customers in the public sector.

<|ref|>image<|/ref|><|det|>[[118, 280, 480, 520], [520, 280, 880, 520]]<|/det|>


<|ref|>image_caption<|/ref|><|det|>[[118, 530, 880, 560]]<|/det|>
Figure 1: Revenue by region.

<|ref|>table<|/ref|><|det|>[[118, 600, 880, 760]]<|/det|>
<table><tr><td>Region</td><td>Q3</td></tr><tr><td>North &amp; East</td><td>1.2</td></tr></table>

<|ref|>equation<|/ref|><|det|>[[300, 780, 700, 820]]<|/det|>
\\[ E = mc^2 \\]
<｜end▁of▁sentence｜>"""


def test_parses_labels_boxes_and_text_in_order() -> None:
    page = parse_grounded(PAGE)
    assert page.issues == [] and page.preamble == ""
    assert [b.label for b in page.blocks] == ["title", "text", "image", "image_caption", "table", "equation"]
    assert [b.index for b in page.blocks] == list(range(6))
    assert page.blocks[0].boxes == ((118.0, 52.0, 880.0, 96.0),)
    assert page.blocks[0].text == "# Quarterly Report"
    assert page.blocks[1].text.startswith("Revenue grew") and page.blocks[1].text.endswith("public sector.")
    assert len(page.blocks[2].boxes) == 2 and page.blocks[2].text == ""
    assert "end▁of▁sentence" not in page.blocks[-1].text


def test_grid_coordinates_become_pixels_of_the_image_the_model_saw() -> None:
    image = PageImage(page_no=1, pixels=np.zeros((1998, 999, 3), dtype=np.uint8), scale_x=2.0, scale_y=2.0)
    gen = Generation(text=PAGE, tokens=200, finish_reason="stop", mean_logprob=-0.1)
    result = to_ocr_result(gen, image, model="m", mode=DeepSeekMode.GUNDAM, truncated=False, attempts=1, tokens=200)
    title = result.blocks[0]
    # x on a 999-wide image is the grid value; y doubles on a 1998-high one
    assert (title.bbox.l, title.bbox.t, title.bbox.r, title.bbox.b) == (118.0, 104.0, 880.0, 192.0)
    assert [b.type for b in result.blocks] == [
        BlockType.TITLE,
        BlockType.TEXT,
        BlockType.FIGURE,
        BlockType.CAPTION,
        BlockType.TABLE,
        BlockType.FORMULA,
    ]
    assert title.text == "Quarterly Report"  # the type says heading; the '#' is markdown noise
    assert result.blocks[4].text.startswith("<table>")  # kept: the pipeline reads its cells (grid_from_html)
    figure = result.blocks[2]
    assert (figure.bbox.l, figure.bbox.r) == (118.0, 880.0)  # both boxes of the ref, as one block
    assert result.ordered and result.blocks[0].confidence == pytest.approx(np.exp(-0.1))
    assert image.box_to_points(title.bbox).t == pytest.approx(52.0)  # points = pixels / scale


def test_free_ocr_output_is_one_block_over_the_page() -> None:
    image = PageImage(page_no=1, pixels=np.zeros((100, 80, 3), dtype=np.uint8), scale_x=1.0, scale_y=1.0)
    gen = Generation(text="Just the text.\nSecond line.", tokens=9, finish_reason="stop")
    result = to_ocr_result(gen, image, model="m", mode=DeepSeekMode.BASE, truncated=False, attempts=1, tokens=9)
    assert len(result.blocks) == 1 and result.blocks[0].type is None
    assert result.blocks[0].bbox.as_tuple() == (0.0, 0.0, 80.0, 100.0)
    assert result.blocks[0].confidence == 0.5  # no log-probabilities reported


@pytest.mark.parametrize(
    ("output", "labels", "issue"),
    [
        # cut off inside a det tag by max_tokens
        (
            "<|ref|>text<|/ref|><|det|>[[10, 20, 30, 40]]<|/det|>\nhello\n<|ref|>text<|/ref|><|det|>[[10, 50, 9",
            ["text", "text"],
            "det tag not closed",
        ),
        # cut off inside the label
        ("<|ref|>text<|/ref|><|det|>[[10, 20, 30, 40]]<|/det|>\nhello\n<|ref|>tab", ["text"], "ref tag not closed"),
        # a box with three numbers, a good box kept
        ("<|ref|>text<|/ref|><|det|>[[10, 20, 30], [1, 2, 3, 4]]<|/det|>\nx", ["text"], "3 numbers"),
        # ref without det: text kept, reported
        ("<|ref|>text<|/ref|>\nfloating text", ["text"], "without a det box"),
        # garbage where numbers should be: never evaluated
        ("<|ref|>text<|/ref|><|det|>[[__import__('os').system('x')]]<|/det|>\nx", ["text"], None),
    ],
)
def test_malformed_output_is_kept_as_far_as_readable(output: str, labels: list[str], issue: str | None) -> None:
    page = parse_grounded(output)
    assert [b.label for b in page.blocks] == labels
    if issue:
        assert any(issue in i for i in page.issues), page.issues


def test_truncated_box_keeps_block_without_box_and_out_of_range_is_clamped() -> None:
    page = parse_grounded(
        "<|ref|>text<|/ref|><|det|>[[-5, 20, 1200, 40]]<|/det|>a\n<|ref|>text<|/ref|><|det|>[[10, 50, 9"
    )
    assert page.blocks[0].boxes == ((0.0, 20.0, 999.0, 40.0),)
    assert page.blocks[1].boxes == ()


def test_labels_outside_the_vocabulary_are_kept_and_mapped_where_one_fits() -> None:
    image = PageImage(page_no=1, pixels=np.zeros((999, 999, 3), dtype=np.uint8), scale_x=1.0, scale_y=1.0)
    out = "".join(
        f"<|ref|>{label}<|/ref|><|det|>[[0, {i * 100}, 500, {i * 100 + 50}]]<|/det|>\nt{i}\n"
        for i, label in enumerate(["figure_title", "chart", "weird_thing", "table_footnote"])
    )
    result = to_ocr_result(
        Generation(out, 10, "stop"), image, model="m", mode=DeepSeekMode.BASE, truncated=False, attempts=1, tokens=10
    )
    assert [(b.label, b.type) for b in result.blocks] == [
        ("figure_title", BlockType.CAPTION),
        ("chart", BlockType.FIGURE),
        ("weird_thing", BlockType.TEXT),
        ("table_footnote", BlockType.FOOTNOTE),
    ]


BOX = BBox.of((0, 0, 100, 100))


def test_html_tables_are_read_with_spans_and_unclosed_cells() -> None:
    grid = grid_from_html("<table><tr><th>a<td>b</tr><tr><td>c</td><td>d</td></tr></table>", BOX)
    assert grid is not None and grid.rows() == [["a", "b"], ["c", "d"]] and grid.method == "html"
    spans = grid_from_html(
        '<table><tr><td rowspan="2">Region</td><td colspan="2">Sales &amp; growth</td></tr>'
        "<tr><td>Q1</td><td>Q2</td></tr><tr><td>North</td><td>1</td><td>2</td></tr></table>",
        BOX,
    )
    assert spans is not None
    assert spans.rows() == [
        ["Region", "Sales & growth", "Sales & growth"],
        ["Region", "Q1", "Q2"],
        ["North", "1", "2"],
    ]
    assert all(c.bbox is None for c in spans.cells)  # the model gives no cell boxes
    assert grid_from_html("no table here", BOX) is None


def test_a_hostile_span_is_clamped_not_allocated() -> None:
    grid = grid_from_html('<table><tr><td colspan="999999999">x</td></tr><tr><td>y</td></tr></table>', BOX)
    assert grid is None or grid.num_cols <= 1000


def test_repetition_is_a_loop_but_a_short_repeat_is_not() -> None:
    assert looks_repetitive("Intro text. " + "the same words " * 40)
    assert looks_repetitive("x" * 50 + "`." * 300)
    assert not looks_repetitive("Name | Value\n" + "a | 1\nb | 2\nc | 3\n")
    assert not looks_repetitive("A normal paragraph that ends. " * 2)


IMAGE = PageImage(page_no=3, pixels=np.zeros((999, 999, 3), dtype=np.uint8), scale_x=1.0, scale_y=1.0)
GOOD = Generation("<|ref|>text<|/ref|><|det|>[[1, 1, 500, 50]]<|/det|>\nfine", 12, "stop")
CUT = Generation("<|ref|>text<|/ref|><|det|>[[1, 1, 500, 50]]<|/det|>\n" + "ab" * 400, 8192, "length")


def test_a_page_that_hits_max_tokens_is_retried_once_in_another_mode() -> None:
    model = ScriptedDeepSeek([CUT, GOOD])
    result = asyncio.run(model.recognize(IMAGE, OcrRequest(mode=DeepSeekMode.GUNDAM)))
    assert model.modes == [DeepSeekMode.GUNDAM, DeepSeekMode.BASE]
    assert not result.truncated and result.attempts == 2 and result.mode == "base"
    assert result.tokens == 8192 + 12 and result.blocks[0].text == "fine"


def test_a_page_that_loops_twice_is_kept_and_marked_truncated() -> None:
    model = ScriptedDeepSeek([CUT, CUT])
    result = asyncio.run(model.recognize(IMAGE, OcrRequest(mode=DeepSeekMode.TINY)))
    assert model.modes == [DeepSeekMode.TINY, DeepSeekMode.SMALL]
    assert result.truncated and result.attempts == 2 and len(result.blocks) == 1


def test_a_clean_page_is_generated_once_in_the_requested_mode() -> None:
    model = ScriptedDeepSeek([GOOD])
    result = asyncio.run(model.recognize(IMAGE, OcrRequest(mode=DeepSeekMode.LARGE)))
    assert model.modes == [DeepSeekMode.LARGE] and result.attempts == 1 and not result.truncated


def test_every_request_carries_the_ngram_guard_settings() -> None:
    extra = ScriptedDeepSeek([]).sampling_extra_args()
    assert extra == {"ngram_size": 30, "window_size": 90, "whitelist_token_ids": [128821, 128822]}
