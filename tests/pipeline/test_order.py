"""Reading order: XY-cut that keeps columns together (synthetic layouts and a real two-column PDF)."""

from __future__ import annotations

from pipeline.geometry import BBox
from pipeline.order import page_order, reading_order


def B(l: float, t: float, r: float, b: float) -> BBox:
    return BBox(l=l, t=t, r=r, b=b)


def test_single_column_top_to_bottom() -> None:
    boxes = [B(72, 300, 540, 340), B(72, 100, 540, 140), B(72, 200, 540, 240)]
    assert reading_order(boxes) == [1, 2, 0]


def test_two_columns_with_aligned_paragraph_breaks_read_column_by_column() -> None:
    # Both columns break paragraphs at y=300: plain XY-cut would read L1 R1 L2 R2.
    title = B(72, 40, 540, 80)
    l1, l2 = B(72, 100, 296, 295), B(72, 305, 296, 700)
    r1, r2 = B(316, 100, 540, 295), B(316, 305, 540, 700)
    boxes = [r2, l2, title, r1, l1]
    order = [boxes[i] for i in reading_order(boxes)]
    assert order == [title, l1, l2, r1, r2]


def test_full_width_figure_separates_column_sections() -> None:
    a1, b1 = B(72, 100, 296, 300), B(316, 100, 540, 300)
    fig = B(72, 320, 540, 450)
    a2, b2 = B(72, 470, 296, 700), B(316, 470, 540, 700)
    boxes = [b2, fig, a1, b1, a2]
    assert [boxes[i] for i in reading_order(boxes)] == [a1, b1, fig, a2, b2]


def test_three_columns() -> None:
    cols = [B(50 + 180 * c, 100 + 10 * r, 210 + 180 * c, 105 + 10 * r) for c in range(3) for r in range(5)]
    shuffled = cols[::-1]
    assert [shuffled[i] for i in reading_order(shuffled)] == cols


def test_overlapping_boxes_fall_back_to_top_left_order() -> None:
    boxes = [B(100, 100, 300, 200), B(50, 50, 250, 150), B(200, 120, 400, 260)]
    assert reading_order(boxes) == [1, 0, 2]


def test_empty_and_single() -> None:
    assert reading_order([]) == []
    assert reading_order([B(0, 0, 1, 1)]) == [0]


def test_a_sideways_page_is_cut_as_it_reads() -> None:
    """A landscape page stored turned (its text running down the page): title, text, table, text as shown; the same
    boxes read unturned come out in another order."""
    # as shown (landscape): four bands top to bottom; stored turned clockwise, a shown (x, y) is at (H - y, x)
    shown = [BBox(l=72, t=56, r=720, b=96), BBox(l=72, t=100, r=720, b=170), BBox(l=72, t=190, r=720, b=322)]
    shown.append(BBox(l=72, t=342, r=720, b=412))
    stored = [BBox(l=612 - b.b, t=b.l, r=612 - b.t, b=b.r) for b in shown]
    assert reading_order(stored, turns=1) == [0, 1, 2, 3]
    assert reading_order(stored) != [0, 1, 2, 3]
    assert reading_order(shown, turns=0) == [0, 1, 2, 3]


def test_a_register_page_reads_band_columns_then_footer() -> None:
    """Three columns under a header band (a title on the left, the issue on the right, nothing over the middle
    column), a footer line that reaches into the third column, and a line set sideways in the left margin down
    into the footer (both bridged every gutter): band, columns, margin line; the footer last."""
    title, issue, date = B(45, 55, 184, 74), B(399, 59, 460, 67), B(399, 91, 499, 99)
    cols = [B(45 + 177 * c, 122 + 310 * r, 214 + 177 * c, 422 + 310 * r) for c in range(3) for r in range(2)]
    footer, margin = B(28, 766, 399, 774), B(18, 667, 23, 774)
    boxes = [footer, cols[3], margin, date, cols[0], issue, cols[5], title, cols[1], cols[2], cols[4]]
    order = [boxes[i] for i in page_order(boxes, last={0})]
    assert order == [title, issue, date, *cols, margin, footer]
    assert [boxes[i] for i in reading_order(boxes)] != order  # the plain cut finds no gutter: it reads across them


def test_columns_whose_tops_are_level_are_no_band() -> None:
    cols = [B(50 + 180 * c, 100 + 10 * r, 210 + 180 * c, 105 + 10 * r) for c in range(3) for r in range(5)]
    shuffled = cols[::-1]
    assert [shuffled[i] for i in page_order(shuffled)] == cols
    tall = [B(400, 100, 405, 500), B(50, 100, 300, 500)]  # a thin box beside the rest on a page read from the right
    assert page_order(tall, right_to_left=True) == reading_order(tall, right_to_left=True)
