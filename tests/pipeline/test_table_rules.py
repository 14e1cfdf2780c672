"""pipeline/tables.py's rules on hand-built input (no model): OCR-like lines clustered into rows and columns
with spans, a model's HTML table read with rowspan/colspan, the bounds that keep a hostile grid out, and
PyMuPDF's finder on a /Rotate'd page given the region (no model; end to end with the layout model: test_tables.py)."""

from __future__ import annotations

import pymupdf
import pytest

from docgraph.samples import make_landscape_table_pdf
from pipeline.geometry import BBox
from pipeline.options import Limits
from pipeline.page import PageGeometry, TextLine, turned_box
from pipeline.pdf import open_document
from pipeline.tablecells import grid_along
from pipeline.tablegrid import GridCell, with_headers
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


@pytest.mark.parametrize("rotation", [90, 270])
@pytest.mark.parametrize("ruled", [True, False], ids=["ruled", "unruled"])
def test_a_rotated_pages_table_is_read_along_its_text(ruled: bool, rotation: int) -> None:
    """Issue 25: on a /Rotate'd landscape page the table's rows run sideways in content space; found there they
    came out transposed. Now they are read on an upright copy and mapped back (the user's document untouched)."""
    data, expected = make_landscape_table_pdf(ruled=ruled, rotation=rotation)
    doc = open_document(data, limits=Limits())
    page = pymupdf.open(stream=data)[0]
    shown_page = pymupdf.open(stream=data)[0]
    shown_page.remove_rotation()  # the page as displayed: its text runs left to right, title first
    first = shown_page.get_text("dict")["blocks"][0]["lines"][0]
    assert first["dir"] == (1.0, 0.0) and first["spans"][0]["text"].startswith("Quarterly")
    assert page.get_text("dict")["blocks"][0]["lines"][0]["dir"] != (1.0, 0.0)  # sideways as stored
    shown = pymupdf.Rect(66, 184, 726, 328)  # the table as displayed (generator: x 72-720, y 190-322)
    clip = BBox.of(tuple(shown * page.derotation_matrix))  # the region in content space, as the layout gives it
    (grid,) = doc.tables(1, [clip])
    assert grid is not None and grid.rows() == expected
    assert grid.method == ("pymupdf-lines" if ruled else "pymupdf-bounds")
    row = sorted((c for c in grid.cells if c.row == 1), key=lambda c: c.col)
    boxes = [c.bbox for c in row if c.bbox is not None]
    assert len(boxes) == 4 and all(clip.l - 1 <= b.l < b.r <= clip.r + 1 for b in boxes)  # content space
    assert (boxes[0].t < boxes[-1].t) is (rotation == 270)  # along a row: up (90) or down (270) the stored page
    assert doc.tables(1, [clip])[0] == grid  # and again: the open document was not edited


@pytest.mark.parametrize("rotation", [90, 270])
@pytest.mark.parametrize("ruled", [True, False], ids=["ruled", "unruled"])
def test_a_table_printed_sideways_on_a_portrait_page_is_read_along_its_text(ruled: bool, rotation: int) -> None:
    """Issue 25: the landscape page's content without its /Rotate: a portrait page with the table printed sideways
    (text running bottom to top, or top to bottom). The text's direction in the region says how to turn it."""
    data, expected = make_landscape_table_pdf(ruled=ruled, rotation=rotation)
    stored = pymupdf.open(stream=data)
    shown = pymupdf.Rect(66, 184, 726, 328) * stored[0].derotation_matrix  # the table's region (content space)
    stored[0].set_rotation(0)
    sideways = stored.tobytes()
    page = pymupdf.open(stream=sideways)[0]
    assert page.rotation == 0 and page.get_text("dict")["blocks"][0]["lines"][0]["dir"] == (
        (0.0, -1.0) if rotation == 90 else (0.0, 1.0)
    )
    doc = open_document(sideways, limits=Limits())
    clip = BBox.of(tuple(shown))
    (grid,) = doc.tables(1, [clip])
    assert grid is not None and grid.rows() == expected
    assert grid.method == ("pymupdf-lines" if ruled else "pymupdf-bounds")
    boxes = [c.bbox for c in sorted((c for c in grid.cells if c.row == 1), key=lambda c: c.col) if c.bbox]
    assert len(boxes) == 4 and all(clip.l - 1 <= b.l < b.r <= clip.r + 1 for b in boxes)  # content space


@pytest.mark.parametrize("turns", [1, 3])
def test_lines_of_a_sideways_table_are_clustered_as_the_page_reads(turns: int) -> None:
    """Where PyMuPDF finds no table in a region of a page whose text runs sideways, its lines are clustered on the
    page turned to read (``plan.turns``), not as stored, where rows and columns trade places."""
    rows = [["Region", "Revenue", "Growth"], ["North", "1200", "4.5"], ["South", "980", "3.1"]]
    upright = [
        line(text, 72 + 150 * c, 200 + 20 * r, 72 + 150 * c + 60, 212 + 20 * r)
        for r, cells in enumerate(rows)
        for c, text in enumerate(cells)
    ]
    # stored: the landscape page (792 x 612) turned back by the page's turn, a portrait page's content space
    stored = [TextLine(bbox=turned_box(ln.bbox, 4 - turns, 792, 612), text=ln.text) for ln in upright]
    geometry = PageGeometry(1, 612, 792, 0, 612, 792, (1, 0, 0, 1, 0, 0))
    grid = grid_along(stored, turns, geometry)
    assert grid is not None and grid.rows() == rows
    as_stored = grid_along(stored, 0, geometry)
    assert as_stored is None or as_stored.rows() != rows
    assert all(0 <= c.bbox.l < c.bbox.r <= 612 and 0 <= c.bbox.t < c.bbox.b <= 792 for c in grid.cells if c.bbox)


def _cells(rows: list[list[str]]) -> list[GridCell]:
    return [GridCell(r, c, 1, 1, None, text) for r, row in enumerate(rows) for c, text in enumerate(row)]


def test_a_two_level_header_spans_its_groups_and_both_rows_are_headers() -> None:
    """Issue 25: years under group headings, the stub empty under its heading; unruled, so no source gave spans."""
    rows = [["Country", "Revenue", "", "", "Costs", "", ""], ["", "2021", "2022", "2023", "2021", "2022", "2023"]]
    rows += [["France", "1", "2", "3", "4", "5", "6"], ["Spain", "7", "8", "9", "10", "11", "12"]]
    cells = with_headers(_cells(rows), 4, 7, infer_spans=True)
    assert {(c.text, c.col, c.col_span) for c in cells if c.col_span > 1} == {("Revenue", 1, 3), ("Costs", 4, 3)}
    assert {c.row for c in cells if c.column_header} == {0, 1}
    assert not any(c.row == 0 and c.col in (2, 3, 5, 6) for c in cells)  # the empty slots are the spans now
    # a ruled table's own spans are kept as they are: nothing inferred, the subdividing row still a header
    ruled = [c for c in _cells(rows) if not (c.row == 0 and c.col in (2, 3, 5, 6))]
    ruled = [GridCell(c.row, c.col, 1, 3 if c.row == 0 and c.col in (1, 4) else 1, None, c.text) for c in ruled]
    assert {c.row for c in with_headers(ruled, 4, 7, infer_spans=False) if c.column_header} == {0, 1}


def test_one_header_row_when_the_row_below_is_data() -> None:
    """A spanning header over a row of data (its label in the stub column), and empty header slots over data:
    one header row, nothing made to span."""
    spanning = [GridCell(0, 0, 1, 1, None, "Region"), GridCell(0, 1, 1, 2, None, "Sales")]
    spanning.append(GridCell(0, 3, 1, 1, None, "Growth"))
    spanning += _cells([[], ["North", "Q1", "1200", "4.5"], ["South", "Q1", "980", "3.1"]])
    assert {c.row for c in with_headers(spanning, 3, 4, infer_spans=True) if c.column_header} == {0}
    gaps = _cells([["Name", "Score", ""], ["Ann", "1", "2"], ["Bob", "3", "4"]])
    assert all(c.col_span == 1 for c in with_headers(gaps, 3, 3, infer_spans=True))
    assert with_headers(_cells([["a", "b"]]), 1, 2, infer_spans=True) == tuple(_cells([["a", "b"]]))
