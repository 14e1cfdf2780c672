"""Table structure: cells with row/column spans, from PyMuPDF's ``find_tables`` or from positioned text.

Two sources, one result type (``TableGrid``, content-space points):
- digital pages: ``Page.find_tables`` (ruled) and MuPDF's structure detection within bounds (unruled) in the
  layout model's table region, on PyMuPDF's own rows and columns (a ``None`` slot is covered by a span);
  each cell's text from the text-layer words inside it (PyMuPDF's ``extract`` joins characters without the
  spaces between words in some fonts). This runs in the PyMuPDF worker processes; a region whose text runs
  sideways (a ``/Rotate``'d page, a table printed sideways) is read on a copy of the page turned so that its rows
  run along its text.
- OCR'd pages and digital regions ``find_tables`` finds nothing in: text lines clustered into
  rows by their vertical centres and into columns by the gaps that run through every row (``grid_from_lines``).
The header rows (the first, and rows that subdivide a spanning header above them) are marked in
``pipeline.tablegrid``, which also gives unruled group headers their spans. Before the merge, the layout model's
table regions are fitted to the page's ruled tables (``pipeline.ruledtables``): grown over a column they cut off,
and added where the model boxed a ruled table as text.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any, Final

import pymupdf
from pymupdf import table as pymupdf_table

from pipeline.geometry import BBox, union_all
from pipeline.page import TextLine
from pipeline.rtl import normalise_forms
from pipeline.tablegrid import GridCell, TableGrid, with_headers
from pipeline.vertical import join_pieces

log = logging.getLogger("docgraph.pipeline")

EDGE_TOLERANCE: Final = 2.0  # points: cell edges closer than this are the same row/column edge
CLIP_MARGIN: Final = 12.0  # points around a table region that find_tables also sees
MATCH_IOU: Final = 0.6  # a ruled table found is the region's table at this IoU (PyMuPDF's own threshold)
MAX_TABLE_CELLS: Final = 5000  # a "table" with more cells is not read as one (a hostile page's grid)
GRID_SLACK: Final = 1.0  # points: MuPDF's grid for a region lies inside it (single precision: this close)
WHITE: Final = 0.99  # a fill colour whose every component is at least this is white


def rows_of(lines: list[TextLine]) -> list[list[TextLine]]:
    """Lines grouped into rows (vertical centres within half a line height), each row left to right."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.bbox.t + ln.bbox.b) / 2):
        centre = (line.bbox.t + line.bbox.b) / 2
        if rows:
            last = rows[-1][0].bbox
            if abs(centre - (last.t + last.b) / 2) <= 0.5 * max(last.height, line.bbox.height):
                rows[-1].append(line)
                continue
        rows.append([line])
    return [sorted(row, key=lambda ln: ln.bbox.l) for row in rows]


def find_tables(page: pymupdf.Page, clips: list[BBox]) -> list[TableGrid | None]:
    """The table inside each clip (content space), or ``None``; PyMuPDF's way of combining a layout model's
    table boxes with its line-based finder, with our detector's boxes as the layout:
    1. ``find_tables(strategy="lines", use_layout=False)`` on the region grown by ``CLIP_MARGIN`` (the
       detector's edge may cut through the outer rules): a ruled table matching the region (IoU ≥ 0.6, as
       PyMuPDF matches its own layout boxes) is taken;
    2. else MuPDF's own structure detection inside the region (``fz_find_table_within_bounds`` through
       ``pymupdf.table.make_table_from_bbox``), which reads unruled tables from word positions.
    ``use_layout=False`` keeps PyMuPDF's own layout model (pymupdf-layout, ~0.45 s a page) out: ours ran.

    Where the text inside a clip runs sideways in content space (a ``/Rotate``'d page, or a table printed sideways
    on a portrait page), its rows and columns are found on a copy of the page turned so that the text runs left to
    right (in a document of its own: un-rotating edits the document, and the worker keeps the user's open), and the
    cells are mapped back to content space."""
    if not clips:
        return []
    turns = [_text_turn(page, clip) for clip in clips]
    out: list[TableGrid | None] = [None] * len(clips)
    for turn in sorted(set(turns)):
        at = [i for i, t in enumerate(turns) if t == turn]
        found = _find_turned(page, [clips[i] for i in at], turn)
        for i, grid in zip(at, found, strict=True):
            out[i] = grid
    return out


def _text_turn(page: pymupdf.Page, clip: BBox) -> int:
    """Degrees (clockwise: 0, 90, 180, 270) to turn the page by for the text inside ``clip`` to run left to right:
    MuPDF's line directions (content space), weighted by characters; the page's ``/Rotate`` where the clip holds
    no straight text."""
    weight = dict.fromkeys((0, 90, 180, 270), 0)
    rect = pymupdf.Rect(clip.l, clip.t, clip.r, clip.b)
    for block in page.get_text("dict", clip=rect).get("blocks", []):
        for line in block.get("lines", []):
            dx, dy = line.get("dir", (1.0, 0.0))
            turn = 0 if dx > 0.9 else 180 if dx < -0.9 else 90 if dy < -0.9 else 270 if dy > 0.9 else None
            if turn is not None:
                weight[turn] += sum(len(span.get("text", "")) for span in line.get("spans", []))
    best = max(weight, key=lambda turn: weight[turn])
    return best if weight[best] > 0 else int(page.rotation) % 360


def _find_turned(page: pymupdf.Page, clips: list[BBox], turn: int) -> list[TableGrid | None]:
    """``_find_upright`` on the page turned by ``turn`` degrees (the page itself where that is how it lies)."""
    with turned_page(page, turn) as (turned, to_shown, to_content):
        if turned is page:
            return _find_upright(page, clips)
        shown = [moved(clip, to_shown) for clip in clips]
        return [None if grid is None else moved_grid(grid, to_content) for grid in _find_upright(turned, shown)]


@contextmanager
def turned_page(page: pymupdf.Page, turn: int) -> Iterator[tuple[pymupdf.Page, pymupdf.Matrix, pymupdf.Matrix]]:
    """The page turned by ``turn`` degrees clockwise, as a page of rotation 0 (the page itself where that is how it
    lies; else a copy in a document of its own: un-rotating edits the document, and the worker keeps the user's
    open), with the matrices from content space to the turned page's space and back."""
    if turn == 0 and not page.rotation:
        yield page, pymupdf.Identity, pymupdf.Identity
        return
    turned_doc = pymupdf.open()
    try:
        turned_doc.insert_pdf(page.parent, from_page=page.number, to_page=page.number, links=False, annots=False)
        turned = turned_doc[0]
        turned.set_rotation(turn)
        to_shown, to_content = turned.rotation_matrix, turned.derotation_matrix
        turned.remove_rotation()  # the same appearance, rotation 0: its space is the turned page
        yield turned, to_shown, to_content
    finally:
        turned_doc.close()


def moved(box: BBox, matrix: pymupdf.Matrix) -> BBox:
    return BBox.of(tuple(pymupdf.Rect(box.l, box.t, box.r, box.b) * matrix))


def moved_grid(grid: TableGrid, matrix: pymupdf.Matrix) -> TableGrid:
    """The same rows and columns, their boxes in another space."""
    cells = tuple(replace(c, bbox=None if c.bbox is None else moved(c.bbox, matrix)) for c in grid.cells)
    return replace(grid, bbox=moved(grid.bbox, matrix), cells=cells)


def _find_upright(page: pymupdf.Page, clips: list[BBox]) -> list[TableGrid | None]:
    out: list[TableGrid | None] = []
    bounds = page.rect
    # the whole page's: MuPDF's grids (and its word order) follow its segmentation of the whole page; a text page
    # clipped to the regions changed the cells of 2 of 35 table pages of the corpus
    textpage = page.get_textpage(flags=pymupdf_table.TABLE_DETECTOR_FLAGS)
    words = textpage.extractWORDS()
    word_rects = [pymupdf.Rect(w[:4]) for w in words]
    drawings = drawn_rules(page)
    for clip in clips:
        region = pymupdf.Rect(clip.l, clip.t, clip.r, clip.b)
        grown = pymupdf.Rect(clip.l - CLIP_MARGIN, clip.t - CLIP_MARGIN, clip.r + CLIP_MARGIN, clip.b + CLIP_MARGIN)
        grown &= bounds
        candidates: list[TableGrid] = []
        try:
            finder = page.find_tables(clip=grown, strategy="lines", use_layout=False, paths=copies(drawings))
            ruled = [(_iou(pymupdf.Rect(t.bbox), region), t) for t in (finder.tables if finder else [])]
            ruled = [(iou, t) for iou, t in ruled if iou >= MATCH_IOU]
            if ruled:
                grid = pymupdf_grid(max(ruled, key=lambda it: it[0])[1], words, "pymupdf-lines")
                candidates += [grid] if grid is not None else []
            # only words inside the grid MuPDF finds count, and its grid lies inside ``region``: the words near it,
            # not the whole page's (the finder tests each word for each row)
            near = pymupdf.Rect(clip.l - GRID_SLACK, clip.t - GRID_SLACK, clip.r + GRID_SLACK, clip.b + GRID_SLACK)
            near_rects = [r for r in word_rects if pymupdf_table.rect_in_rect(r, near)]
            cells = pymupdf_table.make_table_from_bbox(textpage, near_rects, region)
            if cells:
                grid = pymupdf_grid(pymupdf_table.Table(page, cells), words, "pymupdf-bounds")
                candidates += [grid] if grid is not None else []
        except (RuntimeError, ValueError, ZeroDivisionError, IndexError) as exc:  # MuPDF's table finder gave up
            log.warning("page %d: table structure failed in %s: %s", page.number + 1, clip, exc)
        # the one holding more of the region's words (a ruled table can leave out a header above its top rule);
        # on a tie the ruled one
        inside = [w for w in words if region.contains(pymupdf.Point((w[0] + w[2]) / 2, (w[1] + w[3]) / 2))]
        found = max(
            (c for c in candidates if c.num_cols >= 2),
            key=lambda c: sum(1 for w in inside if _holds(c.bbox, w)),
            default=None,
        )
        out.append(found)
    return out


def drawn_rules(page: pymupdf.Page) -> list[dict[str, Any]]:
    """The page's drawings that can be a table's rules: all but white fills with no stroke, which paint nothing on a
    white page, so their edges are no rules (word processors put such boxes behind paragraphs and table rows; taken
    as rules, they joined a table to the text below it)."""
    drawings = page.get_drawings()
    return [d for d in drawings if not (d.get("type") == "f" and d.get("fill") is not None and min(d["fill"]) >= WHITE)]


def copies(drawings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drawings for one ``find_tables`` call: it edits the paths' rects and items in place."""
    return [
        dict(
            d,
            rect=pymupdf.Rect(d["rect"]),
            items=[(i[0], pymupdf.Rect(i[1]), *i[2:]) if i[0] == "re" else i for i in d["items"]],
        )
        for d in drawings
    ]


def _holds(box: BBox, word: tuple[Any, ...]) -> bool:
    x, y = (word[0] + word[2]) / 2, (word[1] + word[3]) / 2
    return bool(box.l <= x <= box.r and box.t <= y <= box.b)


def _iou(a: pymupdf.Rect, b: pymupdf.Rect) -> float:
    inter = (a & b).get_area()
    union = a.get_area() + b.get_area() - inter
    return inter / union if union > 0 else 0.0


def pymupdf_grid(table: Any, words: list[tuple[Any, ...]], method: str) -> TableGrid | None:
    """PyMuPDF's own rows and columns (``rows[i].cells[j]``: a box where a cell starts, ``None`` where a span
    covers the slot) → cells with spans, each cell's text from the words inside it."""
    rows = table.rows
    num_rows, num_cols = len(rows), int(table.col_count)
    if num_rows < 1 or num_cols < 1 or num_rows * num_cols > MAX_TABLE_CELLS:
        return None
    boxes = [box for row in rows for box in row.cells if box is not None]
    if boxes:  # the words of the cells' extent, once: not the whole page's for each cell
        words = _words_within(
            words,
            (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)),
        )
    far = float("inf")  # a column no cell starts in (every slot spanned) never ends a span
    col_x = [min((float(r.cells[j][0]) for r in rows if r.cells[j] is not None), default=far) for j in range(num_cols)]
    row_y = [float(r.bbox[1]) for r in rows]
    cells: list[GridCell] = []
    for i, row in enumerate(rows):
        for j, box in enumerate(row.cells):
            if box is None:
                continue
            x1, y1 = float(box[2]), float(box[3])
            col_span = 1 + sum(1 for k in range(j + 1, num_cols) if col_x[k] < x1 - EDGE_TOLERANCE)
            row_span = 1 + sum(1 for k in range(i + 1, num_rows) if row_y[k] < y1 - EDGE_TOLERANCE)
            cells.append(GridCell(i, j, row_span, col_span, BBox.of(tuple(box)), _words_in(words, box)))
    if len(cells) < 2:
        return None
    headed = with_headers(cells, num_rows, num_cols, infer_spans=method != "pymupdf-lines")  # ruled: its own spans
    grid = TableGrid(BBox.of(tuple(table.bbox)), num_rows, num_cols, headed, method)
    # spans read from cell boxes can overlap (form_on_later_pages' white cell backgrounds, not taken as rules): no
    # such grid is a table
    return grid if grid.covers_each_slot_once() else None


def _words_within(words: list[tuple[Any, ...]], box: tuple[float, float, float, float]) -> list[tuple[Any, ...]]:
    """The words whose centre is in ``box``, in their order."""
    x0, y0, x1, y1 = box
    return [w for w in words if x0 <= (w[0] + w[2]) / 2 <= x1 and y0 <= (w[1] + w[3]) / 2 <= y1]


def _words_in(words: list[tuple[Any, ...]], cell: tuple[float, float, float, float]) -> str:
    """Text of the words whose centre is in ``cell``, in the text layer's order (block, line, word)."""
    inside = _words_within(words, cell)
    inside.sort(key=lambda w: (w[5], w[6], w[7]))
    return normalise_forms(join_pieces([str(w[4]) for w in inside]))


def grid_from_lines(lines: list[TextLine]) -> TableGrid | None:
    """Positioned text (OCR lines, or text-layer lines) inside a table region → a grid: rows by vertical
    centres, columns by the x-gaps that no line crosses, a line across several columns spans them."""
    items = [ln for ln in lines if ln.text.strip()]
    if len(items) < 4 or len(items) > MAX_TABLE_CELLS:
        return None
    rows = rows_of(items)
    # columns from the rows that have the most lines (a title row or a wide note would merge every column)
    widest = max(len(r) for r in rows)
    basis = [ln for r in rows if len(r) >= max(2, widest - 1) for ln in r] or items
    bands = _bands([ln.bbox for ln in basis])
    if len(bands) < 2 or len(rows) < 2:
        return None
    cells: list[GridCell] = []
    for r, row in enumerate(rows):
        members: dict[int, list[TextLine]] = {}
        spans: dict[int, int] = {}
        for line in row:
            cols = [k for k, (lo, hi) in enumerate(bands) if min(hi, line.bbox.r) - max(lo, line.bbox.l) > 0]
            if not cols:  # in a gap: the nearest band
                centre = (line.bbox.l + line.bbox.r) / 2
                cols = [min(range(len(bands)), key=lambda k: abs((bands[k][0] + bands[k][1]) / 2 - centre))]
            members.setdefault(cols[0], []).append(line)
            spans[cols[0]] = max(spans.get(cols[0], 1), cols[-1] - cols[0] + 1)
        placed_until = -1
        for start in sorted(members):
            if start <= placed_until:  # covered by the span of a cell to its left
                continue
            span = min(spans[start], len(bands) - start)
            inside = sorted(members[start], key=lambda ln: (ln.bbox.t, ln.bbox.l))
            text = join_pieces([" ".join(m.text.split()) for m in inside])
            cells.append(GridCell(r, start, 1, span, union_all([m.bbox for m in inside]), text))
            placed_until = start + span - 1
    bbox = union_all([ln.bbox for ln in items])
    headed = with_headers(cells, len(rows), len(bands), infer_spans=True)
    return TableGrid(bbox, len(rows), len(bands), headed, "clustered")


def _bands(boxes: list[BBox]) -> list[tuple[float, float]]:
    """Column bands: x-intervals of the boxes, merged where they overlap."""
    bands: list[tuple[float, float]] = []
    for box in sorted(boxes, key=lambda b: b.l):
        if bands and box.l <= bands[-1][1]:
            bands[-1] = (bands[-1][0], max(bands[-1][1], box.r))
        else:
            bands.append((box.l, box.r))
    return bands


class _TableHtml(HTMLParser):
    """The first ``<table>`` of a model's HTML: rows of (text, rowspan, colspan, is_th). Tolerates what
    generated HTML does: unclosed ``td``/``tr`` (the next cell or row closes them), tags inside cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[tuple[str, int, int, bool]]] = []
        self._depth = 0
        self._done = False
        self._cell: list[str] | None = None
        self._span = (1, 1, False)

    def _close_cell(self) -> None:
        if self._cell is not None and self.rows:
            self.rows[-1].append((" ".join("".join(self._cell).split()), *self._span))
        self._cell = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        if tag == "table":
            self._depth += 1
        elif self._depth == 1 and tag == "tr":
            self._close_cell()
            self.rows.append([])
        elif self._depth == 1 and tag in ("td", "th"):
            self._close_cell()
            if not self.rows:
                self.rows.append([])
            a = dict(attrs)
            self._span = (_span(a.get("rowspan")), _span(a.get("colspan")), tag == "th")
            self._cell = []
        elif self._cell is not None and tag == "br":
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self._done:
            return
        if tag in ("td", "th", "tr"):
            self._close_cell()
        elif tag == "table":
            self._depth -= 1
            if self._depth == 0:
                self._close_cell()
                self._done = True

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), MAX_SPAN))
    except ValueError:
        return 1


MAX_SPAN: Final = 1000  # a rowspan/colspan from a model is clamped (a hostile "colspan=1e9" is not a grid)


def grid_from_html(text: str, bbox: BBox) -> TableGrid | None:
    """A model's HTML table (DeepSeek-OCR emits ``<table>`` with rowspan/colspan) → cells, read with a real
    HTML parser; slots taken by a span from above are skipped as browsers do. Cells carry no boxes."""
    parser = _TableHtml()
    parser.feed(text)
    parser.close()
    taken: set[tuple[int, int]] = set()
    cells: list[GridCell] = []
    for r, row in enumerate(parser.rows):
        col = 0
        for cell_text, row_span, col_span, is_th in row:
            while (r, col) in taken:
                col += 1
            spans = min(row_span, len(parser.rows) - r), col_span
            if len(taken) + spans[0] * spans[1] > MAX_TABLE_CELLS:
                return None
            taken |= {(rr, cc) for rr in range(r, r + spans[0]) for cc in range(col, col + spans[1])}
            cells.append(GridCell(r, col, spans[0], spans[1], None, html.unescape(cell_text), column_header=is_th))
            col += spans[1]
    if not cells:
        return None
    num_rows = len(parser.rows)
    num_cols = max(c.col + c.col_span for c in cells)
    if not any(c.column_header for c in cells):
        cells = list(with_headers(cells, num_rows, num_cols, infer_spans=False))
    return TableGrid(bbox, num_rows, num_cols, tuple(cells), "html")
