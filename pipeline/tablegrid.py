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


def with_headers(cells: list[GridCell], num_rows: int, num_cols: int, *, infer_spans: bool) -> tuple[GridCell, ...]:
    """``cells`` with their header rows marked ``column_header`` (a grid of one row has none); with
    ``infer_spans``, group header cells made to span the columns they head (see the module's docstring)."""
    if num_rows < 2:
        return tuple(cells)
    header_rows, row = 1, 0
    while row + 2 < num_rows:  # at least one row of data stays under the header
        if infer_spans:
            cells = _spanned(cells, row, num_cols)
        if not _subdivides(cells, row):
            break
        header_rows, row = row + 2, row + 1
    return tuple(replace(c, column_header=c.row < header_rows) for c in cells)


def _text_at(cells: list[GridCell], row: int, col: int) -> str:
    for c in cells:
        if c.row <= row < c.row + c.row_span and c.col <= col < c.col + c.col_span:
            return c.text.strip()
    return ""


def _subdivides(cells: list[GridCell], row: int) -> bool:
    """The row under ``row`` subdivides one of its cells spanning columns: text in every column under it, and
    none in the stub column (a row of data has its label there)."""
    if _text_at(cells, row + 1, 0):
        return False
    return any(
        c.row == row and c.col_span > 1 and all(_text_at(cells, row + 1, k) for k in range(c.col, c.col + c.col_span))
        for c in cells
    )


def _spanned(cells: list[GridCell], row: int, num_cols: int) -> list[GridCell]:
    """Each cell of ``row`` with text followed by empty slots, over a row below that subdivides them (text in
    every one of those columns, none in the stub column), made to span them (the empty cells dropped)."""
    if _text_at(cells, row + 1, 0) or any(c.row == row and c.col_span > 1 for c in cells):
        return cells
    texts = [_text_at(cells, row, k) for k in range(num_cols)]
    below = [bool(_text_at(cells, row + 1, k)) for k in range(num_cols)]
    spans: dict[int, int] = {}
    for col in range(1, num_cols):
        if not texts[col]:
            continue
        end = col + 1
        while end < num_cols and not texts[end]:
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
