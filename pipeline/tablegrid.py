"""A table's grid (``TableGrid``: cells with row and column spans, content-space boxes) and its header rows.

Header rows: the first row, and under it each row that subdivides a header cell spanning columns above it (a
two-level header: years under a group heading, the stub column empty there). Where the source gives no spans
(MuPDF's structure detection within bounds, lines clustered into rows and columns), a header cell followed by
empty slots over such a subdividing row is made to span them, so that each value sits under its own group.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pipeline.geometry import BBox, union_all
from pipeline.graph import span_grid


@dataclass(frozen=True, slots=True)
class GridCell:
    row: int
    col: int
    row_span: int
    col_span: int
    bbox: BBox | None  # None where the source gives no cell geometry (DeepSeek-OCR's HTML)
    text: str
    column_header: bool = False
    row_header: bool = False


@dataclass(frozen=True, slots=True)
class TableGrid:
    bbox: BBox
    num_rows: int
    num_cols: int
    cells: tuple[GridCell, ...]
    method: str  # "pymupdf-lines" (ruled), "pymupdf-bounds" (MuPDF within the region), "clustered", "html"

    def rows(self) -> list[list[str]]:
        """The grid as text, a spanning cell's text repeated over every slot it covers (docling's grid)."""
        return span_grid(self.num_rows, self.num_cols, self.cells)

    def text(self) -> str:
        return "\n".join(" | ".join(row) for row in self.rows())

    def covers_each_slot_once(self) -> bool:
        """No slot of the grid is covered by two cells (their spans overlap)."""
        seen: set[tuple[int, int]] = set()
        for c in self.cells:
            slots = {(r, k) for r in range(c.row, c.row + c.row_span) for k in range(c.col, c.col + c.col_span)}
            if slots & seen:
                return False
            seen |= slots
        return True


def with_headers(cells: list[GridCell], num_rows: int, num_cols: int, *, infer_spans: bool) -> tuple[GridCell, ...]:
    """``cells`` with their header rows marked ``column_header`` (a grid of one row has none); with
    ``infer_spans``, group header cells made to span the columns they head (see the module's docstring)."""
    if num_rows < 2:
        return tuple(cells)
    header_rows, row = 1, 0
    texts = _texts(cells)
    while row + 2 < num_rows:  # at least one row of data stays under the header
        if infer_spans and (spanned := _spanned(cells, texts, row, num_cols)) is not cells:
            cells, texts = spanned, _texts(spanned)
        if not _subdivides(cells, texts, row):
            break
        header_rows, row = row + 2, row + 1
    return tuple(replace(c, column_header=c.row < header_rows) for c in cells)


Slots = dict[tuple[int, int], str]  # (row, col) → the stripped text of the cell covering that slot


def _texts(cells: list[GridCell]) -> Slots:
    """Every slot's text, the first cell (in order) covering it winning; one pass over the grid's area, so that
    checking a slot is a look-up, not a scan of every cell."""
    slots: Slots = {}
    for c in cells:
        text = c.text.strip()
        for row in range(c.row, c.row + c.row_span):
            for col in range(c.col, c.col + c.col_span):
                slots.setdefault((row, col), text)
    return slots


def _subdivides(cells: list[GridCell], texts: Slots, row: int) -> bool:
    """The row under ``row`` subdivides one of its cells spanning columns: text in every column under it, and
    none in the stub column (a row of data has its label there)."""
    if texts.get((row + 1, 0)):
        return False
    return any(
        c.row == row and c.col_span > 1 and all(texts.get((row + 1, k)) for k in range(c.col, c.col + c.col_span))
        for c in cells
    )


def _spanned(cells: list[GridCell], texts: Slots, row: int, num_cols: int) -> list[GridCell]:
    """Each cell of ``row`` with text followed by empty slots, over a row below that subdivides them (text in
    every one of those columns, none in the stub column), made to span them (the empty cells dropped); ``cells``
    itself where nothing changes."""
    if texts.get((row + 1, 0)) or any(c.row == row and c.col_span > 1 for c in cells):
        return cells
    here = [texts.get((row, k), "") for k in range(num_cols)]
    below = [bool(texts.get((row + 1, k))) for k in range(num_cols)]
    spans: dict[int, int] = {}
    for col in range(1, num_cols):
        if not here[col]:
            continue
        end = col + 1
        while end < num_cols and not here[end]:
            end += 1
        if end - col > 1 and all(below[col:end]):
            spans[col] = end - col
    if not spans:
        return cells
    covered = {k for col, span in spans.items() for k in range(col + 1, col + span)}
    out: list[GridCell] = []
    for c in cells:
        if c.row == row and c.col in covered:
            continue
        if c.row == row and c.col in spans:
            parts = [d.bbox for d in cells if d.row == row and c.col <= d.col < c.col + spans[c.col] and d.bbox]
            out.append(replace(c, col_span=spans[c.col], bbox=union_all(parts) if parts else c.bbox))
        else:
            out.append(c)
    return out
