"""pipeline/tables.py's rules on hand-built input (no model): OCR-like lines clustered into rows and columns
with spans, a model's HTML table read with rowspan/colspan, and the bounds that keep a hostile grid out.
PyMuPDF's own finder (``find_tables``) runs on generated PDFs in test_tables.py."""

from __future__ import annotations

from pipeline.geometry import BBox
from pipeline.page import TextLine
from pipeline.tables import MAX_TABLE_CELLS, grid_from_html, grid_from_lines, rows_of

REGION = BBox.of((0, 0, 500, 200))


def line(text: str, l: float, t: float, r: float, b: float) -> TextLine:  # box edges l, t, r, b
    return TextLine(bbox=BBox.of((l, t, r, b)), text=text)


def test_rows_group_lines_by_vertical_centre_left_to_right() -> None:
    lines = [line("b", 200, 11, 240, 21), line("a", 10, 10, 50, 20), line("c", 10, 40, 50, 50)]
    assert [[ln.text for ln in row] for row in rows_of(lines)] == [["a", "b"], ["c"]]


def test_lines_become_a_grid_with_a_spanning_title_row() -> None:
    lines = [
        line("Sales by region", 10, 0, 330, 12),  # across all three columns: spans them
        line("Region", 10, 20, 80, 32), line("2023", 150, 20, 200, 32), line("2024", 280, 20, 330, 32),
        line("North", 10, 40, 80, 52), line("1.2", 150, 40, 200, 52), line("1.5", 280, 40, 330, 52),
        line("South", 10, 60, 80, 72), line("0.9", 150, 60, 200, 72), line("1.1", 280, 60, 330, 72),
    ]  # fmt: skip
    grid = grid_from_lines(lines)
    assert grid is not None and grid.method == "clustered"
    assert (grid.num_rows, grid.num_cols) == (4, 3)
    assert grid.rows() == [
        ["Sales by region"] * 3,
        ["Region", "2023", "2024"],
        ["North", "1.2", "1.5"],
        ["South", "0.9", "1.1"],
    ]
    title = next(c for c in grid.cells if c.row == 0)
    assert (title.col_span, title.column_header) == (3, True)
    assert not any(c.column_header for c in grid.cells if c.row > 0)


def test_too_few_or_too_many_lines_are_no_table() -> None:
    assert grid_from_lines([line("a", 0, 0, 10, 10), line("b", 20, 0, 30, 10)]) is None
    one_column = [line(str(i), 0, 20 * i, 10, 20 * i + 10) for i in range(6)]
    assert grid_from_lines(one_column) is None  # one band of x: a list, not a table
    hostile = [line("x", 12 * (i % 40), 12 * (i // 40), 12 * (i % 40) + 8, 12 * (i // 40) + 8) for i in range(5001)]
    assert len(hostile) > MAX_TABLE_CELLS and grid_from_lines(hostile) is None


def test_html_with_spans_header_cells_and_unclosed_tags() -> None:
    html = (
        "<table><tr><th rowspan=2>Item</th><th colspan=2>Price</th>"
        "<tr><th>2023<th>2024"  # unclosed cells and rows, as generated HTML has them
        "<tr><td>Tea &amp; milk</td><td>1</td><td><b>2</b></td></tr></table> trailing text"
    )
    grid = grid_from_html(html, REGION)
    assert grid is not None and grid.method == "html" and (grid.num_rows, grid.num_cols) == (3, 3)
    assert grid.rows() == [["Item", "Price", "Price"], ["Item", "2023", "2024"], ["Tea & milk", "1", "2"]]
    assert {(c.row, c.col) for c in grid.cells if c.column_header} == {(0, 0), (0, 1), (1, 1), (1, 2)}
    assert all(c.bbox is None for c in grid.cells)  # HTML has no cell geometry


def test_html_without_th_takes_its_first_row_as_header_and_hostile_spans_are_bounded() -> None:
    grid = grid_from_html("<table><tr><td>a</td><td>b</td></tr><tr><td>1</td><td>2</td></tr></table>", REGION)
    assert grid is not None and {c.text for c in grid.cells if c.column_header} == {"a", "b"}
    assert grid_from_html("<p>no table here</p>", REGION) is None
    hostile = grid_from_html('<table><tr><td colspan="1000000000">x</td></tr><tr><td>y</td></tr></table>', REGION)
    assert hostile is None or hostile.num_cols <= 1000  # clamped or refused, never a billion-column grid
