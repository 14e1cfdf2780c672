"""pipeline/ruledtables.py (issue 25, "documents nobody tuned for"): the ruled tables of a whole page, and the layout
model's table regions fitted to them, on pages generated here. No model runs: the "layout" regions are given, as the
model gave them on issue-140-example.pdf (tests/realdocs), one table box stopping short of its last column and a
table with no table box, lying under a text region; the rest is the pipeline's own merge and table step."""

from __future__ import annotations

import pymupdf
import pytest

from pipeline.geometry import BBox
from pipeline.graph import BlockType, Source
from pipeline.merge import TEXT_LAYER_MODEL, Region, merge_page
from pipeline.options import Limits
from pipeline.pdf import open_document
from pipeline.route import sideways_turns
from pipeline.ruledtables import RULED_MODEL, RuledTables, fit_regions, ruled

ITEMS = [
    ["Item", "Code", "Quantity", "Amount", "Status"],
    ["Almond bar", "0085648100305", "637", "388.57", "Open"],
    ["Dark bar", "0085648100380", "688", "419.68", "Paid"],
]
CLAIMS = [["Claim ID", "Claim type", "Claim date", "Claim amount"], ["No results"] * 4]  # one cell spans the row
LEFT, WIDTH, ROW = 40.0, 700.0, 24.0


def _grid(page: pymupdf.Page, top: float, rows: list[list[str]], *, spanned: bool = False) -> pymupdf.Rect:
    """Every cell ruled (a rectangle each), as report generators draw them; ``spanned``: the last row one cell across
    the table. Returns the table's box."""
    cols = len(rows[0])
    width = WIDTH / cols
    for r, row in enumerate(rows):
        y = top + r * ROW
        cells = [(LEFT, LEFT + WIDTH, row[0])] if spanned and r == len(rows) - 1 else None
        cells = cells or [(LEFT + c * width, LEFT + (c + 1) * width, text) for c, text in enumerate(row)]
        for x0, x1, text in cells:
            page.draw_rect(pymupdf.Rect(x0, y, x1, y + ROW), color=(0, 0, 0), width=0.5)
            assert page.insert_textbox(pymupdf.Rect(x0 + 4, y + 6, x1 - 4, y + ROW), text, fontsize=9) >= 0
    return pymupdf.Rect(LEFT, top, LEFT + WIDTH, top + len(rows) * ROW)


def _report_pdf(rotation: int) -> tuple[bytes, pymupdf.Rect, pymupdf.Rect]:
    """A landscape invoice page stored as a portrait page with ``/Rotate`` ``rotation`` (its text sideways as stored,
    as issue-140-example.pdf): a heading, a ruled table of items, a heading, a ruled table whose one row is a cell
    spanning it. Returns the PDF and the two tables' boxes as displayed."""
    landscape = pymupdf.open()
    src = landscape.new_page(width=792, height=612)
    src.insert_text((LEFT, 50), "Invoice lines", fontsize=12, fontname="hebo")
    items = _grid(src, 64, ITEMS)
    src.insert_text((LEFT, items.y1 + 30), "Associated claims", fontsize=12, fontname="hebo")
    claims = _grid(src, items.y1 + 44, CLAIMS, spanned=True)
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.set_rotation(rotation)
    page.show_pdf_page(page.rect * page.derotation_matrix, landscape, 0, rotate=90 if rotation == 90 else -90)
    data: bytes = doc.tobytes(garbage=3, deflate=True)
    return data, items, claims


def _content(page: pymupdf.Page, shown: pymupdf.Rect) -> BBox:
    """A box as the page shows it, in the page's content space (where the pipeline's boxes are)."""
    return BBox.of(tuple(shown * page.derotation_matrix))


@pytest.mark.parametrize("rotation", [90, 270])
def test_every_ruled_table_of_a_rotated_page_is_read_and_regions_fitted_to_them(rotation: int) -> None:
    data, items, claims = _report_pdf(rotation)
    doc = open_document(data, limits=Limits())
    page = pymupdf.open(stream=data)[0]
    assert page.rotation == rotation  # stored turned, shown upright
    layer = doc.text_layer(1)
    found = doc.ruled_tables(1, sideways_turns(layer))
    assert [g.rows() for g in found.grids] == [ITEMS, [CLAIMS[0], ["No results"] * 4]]
    spans = [(c.row, c.col, c.row_span, c.col_span) for c in found.grids[1].cells if c.col_span > 1]
    assert spans == [(1, 0, 1, 4)]
    for grid, shown in zip(found.grids, (items, claims), strict=True):
        assert grid.bbox.iou(_content(page, shown)) > 0.95  # content space, where the layout's regions are

    # the layout model's regions: the items table's box stops short of its last column; the claims table has none,
    # it lies under a text region (with its heading), as issue-140-example.pdf's third and fourth tables did
    short = pymupdf.Rect(items.x0, items.y0, items.x1 - WIDTH / 5 - 20, items.y1)
    under = pymupdf.Rect(claims.x0 - 4, claims.y0 - 40, claims.x1 + 4, claims.y1 + 4)
    regions = [
        Region(BlockType.TABLE, "table", _content(page, short), 0.9, "layout"),
        Region(BlockType.TEXT, "text", _content(page, under), 0.8, "layout"),
    ]
    fitted = fit_regions(regions, found)
    tables = [r for r in fitted if r.type is BlockType.TABLE]
    assert [r.model for r in tables] == ["layout", RULED_MODEL]
    assert [r.bbox.iou(g.bbox) > 0.95 for r, g in zip(tables, found.grids, strict=True)] == [True, True]

    # merged with the text layer, each table's lines are its own (none left in the text region), and the table
    # step reads each cell for cell
    blocks = merge_page(
        list(layer.blocks),
        text_source=Source.TEXT_LAYER,
        text_model=TEXT_LAYER_MODEL,
        regions=fitted,
        turns=sideways_turns(layer),
    )
    table_blocks = [b for b in blocks if b.type is BlockType.TABLE]
    grids = doc.tables(1, [b.bbox for b in table_blocks])
    assert [g.rows() if g else None for g in grids] == [ITEMS, [CLAIMS[0], ["No results"] * 4]]
    # the added table's cells were read with the page's rules: the table step takes them as they are
    assert [found.added(b.model, b.bbox) for b in table_blocks] == [None, found.grids[1]]
    rest = " ".join(b.text for b in blocks if b.type is not BlockType.TABLE)
    assert "Associated claims" in rest and "Status" not in rest and "No results" not in rest
    # and without them, the model's regions read the items table without its last column
    (short_grid,) = doc.tables(1, [regions[0].bbox])
    assert short_grid is not None and short_grid.num_cols < len(ITEMS[0])


def test_a_grid_drawn_over_running_text_is_no_table() -> None:
    """Boxes drawn round words of a paragraph (highlights, as in olmOCR-2-Unit-Test-Rewards's figure text) make a
    grid PyMuPDF's line finder reads as a table: the lines of text run out of it, so it is none."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    for k in range(4):
        page.insert_text(
            (72, 100 + 14 * k), "the caption goes before the yellow passage and after the green", fontsize=10
        )
    for r in range(2):
        for c in range(2):
            page.draw_rect(pymupdf.Rect(150 + 60 * c, 89 + 14 * r, 210 + 60 * c, 103 + 14 * r), color=(1, 1, 0))
    (table,) = page.find_tables(strategy="lines", use_layout=False).tables  # the finder alone takes it for one
    assert (table.row_count, table.col_count) == (2, 2) and ruled(page.get_drawings())
    assert open_document(doc.tobytes(), limits=Limits()).ruled_tables(1) == RuledTables()


def test_a_page_with_a_rule_or_two_is_left_after_its_drawings_are_read() -> None:
    """Fewer than three rules across and three down (a rectangle's edges counted, a thin filled rectangle one rule)
    bound no grid of two rows and two columns: no table is looked for."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_text((72, 100), "Heading", fontsize=14)
    page.draw_line((72, 106), (540, 106))
    page.draw_rect(pymupdf.Rect(72, 120, 540, 300), color=(0, 0, 0))  # a frame: two rules across, two down
    page.insert_text((80, 140), "framed text", fontsize=10)
    assert not ruled(page.get_drawings())
    assert open_document(doc.tobytes(), limits=Limits()).ruled_tables(1) == RuledTables()
    page.draw_rect(pymupdf.Rect(300, 120, 301, 300), fill=(0, 0, 0))  # a thin filled rectangle: one rule down
    assert ruled(page.get_drawings())


def test_regions_stay_as_they_are_where_the_page_has_no_ruled_table() -> None:
    regions = [Region(BlockType.TABLE, "table", BBox.of((10, 10, 200, 100)), 0.9, "layout")]
    assert fit_regions(regions, RuledTables()) is regions
