"""Ruled tables over the whole page, and the layout model's table regions fitted to them (before the page's text is
merged into its regions).

The layout model's table boxes can stop short of a table's last column, and on a page of several tables some get no
box at all (read as text). On a page where the model saw a table and that draws rules (vector lines and rectangle
edges that can make a grid), PyMuPDF's line finder (``find_tables(strategy="lines")``) reads every ruled table of the
page, on the page turned so that its text runs left to right (``plan.turns``; ``pipeline.tables.turned_page``). Then
(``fit_regions``): a table region that a ruled table overlaps is grown to cover it; a ruled table that no table
region overlaps, that is a real table (two rows and two columns or more, most of its cells with text) and that no
picture holds, becomes a table region of its own. The merge then gives each its lines (a line inside two regions
goes to the smaller, the table), and the table step reads its cells (``pipeline.tables.find_tables``).

A page with fewer rules than a grid of two by two cells needs is left after one ``get_drawings``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

import pymupdf

from pipeline.geometry import BBox
from pipeline.graph import BlockType
from pipeline.merge import Region
from pipeline.tablegrid import TableGrid
from pipeline.tables import copies, drawn_rules, moved_grid, pymupdf_grid, turned_page

RULED_MODEL: Final = "pymupdf-lines"  # the model named on a table region added from a ruled table
MIN_RULES: Final = 3  # horizontal and vertical rules each: fewer cannot bound a grid of two rows and two columns
THIN: Final = 3.0  # points: a filled rectangle this thin is a rule
RULE_WIDTH: Final = 2.0  # points around the rules' extent that the finder also reads (half a rule's width, and more)
FILLED_SHARE: Final = 0.5  # a ruled table added on its own has text in at least this share of its cells
MATCH_SHARE: Final = 0.5  # a table region covering this share of a ruled table (or the table of it) is its region
NEAR_SHARE: Final = 0.1  # a ruled table overlapping a table region by more than this share is never added
IN_PICTURE: Final = 0.5  # a ruled table this much inside a picture is the picture's (a chart's grid)


@dataclass(frozen=True, slots=True)
class RuledTables:
    """The ruled tables on a page (content space), each read cell for cell; none where the page has no grid of
    rules or holds no table region."""

    grids: tuple[TableGrid, ...] = ()

    def added(self, model: str | None, box: BBox) -> TableGrid | None:
        """The ruled table a table block (its ``model``, its box) was added for (``fit_regions``): read already. A
        layout model's table region is read in its region (``pipeline.tables.find_tables``), as before."""
        return next((g for g in self.grids if g.bbox == box), None) if model == RULED_MODEL else None


def find_ruled_tables(page: pymupdf.Page, turns: int) -> RuledTables:
    """Every ruled table of the page (see the module's docstring); ``RuledTables()`` where its drawings make no
    grid. ``turns``: quarter turns (counter-clockwise) that make the page's text run along it (``plan.turns``); the
    page is read turned by them. Each cell's text from the words of the finder's own text page."""
    drawings = drawn_rules(page)
    if not ruled(drawings):
        return RuledTables()
    with turned_page(page, (4 - turns) % 4 * 90) as (turned, _, to_content):
        if turned is not page:
            drawings = drawn_rules(turned)
        # no table lies outside its rules: the finder reads the characters (in Python, one by one) only where they are
        clip = _extent([path["rect"] for path in drawings]) & turned.rect
        try:
            finder = turned.find_tables(clip=clip, strategy="lines", use_layout=False, paths=copies(drawings))
        except (RuntimeError, ValueError, ZeroDivisionError, IndexError):  # MuPDF's table finder gave up
            return RuledTables()
        if finder is None or not finder.tables:
            return RuledTables()
        words = finder.textpage.extractWORDS()  # the characters it read: those in the clip
        grids = [pymupdf_grid(t, words, RULED_MODEL) for t in finder.tables]
        page_words = turned.get_text("words")  # every line whole (~1 ms a page)
        kept = [g for g in grids if g is not None and holds_its_lines(g.bbox, page_words)]
        return RuledTables(tuple(moved_grid(g, to_content) for g in kept))


def _extent(rects: list[pymupdf.Rect]) -> pymupdf.Rect:
    """The rectangle round ``rects`` and ``RULE_WIDTH`` more (a straight line's rect has no area: MuPDF's union would
    leave it out)."""
    x0, y0 = min(r.x0 for r in rects), min(r.y0 for r in rects)
    x1, y1 = max(r.x1 for r in rects), max(r.y1 for r in rects)
    return pymupdf.Rect(x0 - RULE_WIDTH, y0 - RULE_WIDTH, x1 + RULE_WIDTH, y1 + RULE_WIDTH)


def holds_its_lines(box: BBox, words: list[tuple[Any, ...]]) -> bool:
    """Every text line with a word inside ``box`` lies inside it (word centres; MuPDF's block and line numbers): a
    table's text is its cells'. Boxes drawn round words of running text (highlights) make a grid that cuts lines."""

    def inside(w: tuple[Any, ...]) -> bool:
        return bool(box.l <= (w[0] + w[2]) / 2 <= box.r and box.t <= (w[1] + w[3]) / 2 <= box.b)

    lines = {(w[5], w[6]) for w in words if inside(w)}
    return all(inside(w) for w in words if (w[5], w[6]) in lines)


def ruled(drawings: list[dict[str, Any]]) -> bool:
    """The drawings hold ``MIN_RULES`` horizontal and vertical rules each (straight lines, thin filled rectangles,
    a rectangle's four edges): enough for a grid of two rows and two columns."""
    across = down = 0
    for path in drawings:
        for item in path.get("items", ()):
            if item[0] == "l":
                a, b = item[1], item[2]
                across += abs(a.y - b.y) < 1
                down += abs(a.x - b.x) < 1
            elif item[0] == "re":
                rect = item[1]
                thin_across, thin_down = rect.height <= THIN, rect.width <= THIN
                across += 1 if thin_across else 0 if thin_down else 2
                down += 1 if thin_down else 0 if thin_across else 2
            if across >= MIN_RULES and down >= MIN_RULES:
                return True
    return False


def fit_regions(regions: list[Region], found: RuledTables) -> list[Region]:
    """The layout regions with each table region grown over the ruled tables it covers ``MATCH_SHARE`` of (or that
    cover that share of it), and a table region added for each ruled table no table region overlaps by more than
    ``NEAR_SHARE`` of it, that is a real table (``real_table``) and that no picture holds."""
    if not found.grids:
        return regions
    tables = [r for r in regions if r.type is BlockType.TABLE]
    pictures = [r.bbox for r in regions if r.type is BlockType.FIGURE]
    grown = {id(r): r.bbox for r in tables}
    for grid in found.grids:
        if grid.num_rows < 2 or grid.num_cols < 2:  # a frame round a table and its caption is no grid to grow to
            continue
        for region in tables:
            if region.bbox.intersection(grid.bbox) >= MATCH_SHARE * min(region.bbox.area, grid.bbox.area):
                grown[id(region)] = grown[id(region)].union(grid.bbox)
    out = [replace(r, bbox=grown[id(r)]) if id(r) in grown else r for r in regions]
    for grid in found.grids:
        box = grid.bbox
        if any(b.intersection(box) > NEAR_SHARE * box.area for b in grown.values()):
            continue
        if any(p.intersection(box) >= IN_PICTURE * box.area for p in pictures) or not real_table(grid):
            continue
        out.append(Region(type=BlockType.TABLE, label="table", bbox=box, score=1.0, model=RULED_MODEL))
    return out


def real_table(grid: TableGrid) -> bool:
    """Two rows and two columns or more, text in two rows or more and in ``FILLED_SHARE`` of its cells (a ruled
    frame round a paragraph, a form's empty boxes and a chart's gridlines are not tables)."""
    filled = [c for c in grid.cells if c.text.strip()]
    rows = {c.row for c in filled}
    return (
        grid.num_rows >= 2 and grid.num_cols >= 2 and len(rows) >= 2 and len(filled) >= FILLED_SHARE * len(grid.cells)
    )
