"""Reading a page's own text layer with PyMuPDF, and the facts that classify the page.

Everything is in content space (the unrotated page), as PyMuPDF reports it. Nothing here grows faster than the
page's primitives (text lines, drawn images and paths), and those are capped (``max_primitives``): a hostile
page that draws 25,000 images costs what 20,000 do, and says so in a warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pymupdf

from pipeline.geometry import BBox, union_all
from pipeline.page import TextBlock, TextLayer, TextLine
from pipeline.rtl import Glyph, has_rtl, logical_row, mostly_rtl, normalise_forms, placed
from pipeline.tables import rows_of
from pipeline.vertical import join_vertical_blocks

# ligatures kept as MuPDF reads them, then spelled out in logical order (pipeline.rtl.normalise_forms)
TEXT_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP | pymupdf.TEXT_PRESERVE_LIGATURES
COVERAGE_GRID = 128  # cells per side of the raster that measures how much of the page a kind of content covers
FIGURE_CELL_PT = 2.0  # raster cell that joins drawn images into figures: images that overlap or touch within it
FIGURE_GRID_MAX = 1024  # cells per side at most (huge pages get coarser cells, never a larger raster)
MIN_FIGURE_SHARE = 0.002  # of the page area: smaller images are bullets and rules, not figures
Rect = tuple[float, float, float, float]  # a drawn item's box in content space: left, top, right, bottom


def extract_text_layer(page: pymupdf.Page, *, max_primitives: int) -> TextLayer:
    content = page.rect * page.derotation_matrix
    width, height = abs(content.width), abs(content.height)
    blocks, chars, garbled, cut = _text_blocks(page, width, height, max_primitives)
    warnings: list[str] = []
    if cut:
        warnings.append(
            f"the page has more than {max_primitives} text lines: only the first {max_primitives} were read"
        )

    drawn = page.get_bboxlog()
    if len(drawn) > max_primitives:
        warnings.append(
            f"the page draws {len(drawn)} items (text runs, images, paths): only the first {max_primitives} were "
            "analysed for figures and coverage"
        )
        drawn = drawn[:max_primitives]
    painted: list[tuple[str, Rect, int]] = []  # in drawing order; an image's place among the page's images
    images_drawn = 0
    for kind, rect in drawn:
        box = _clipped(rect, width, height)
        if box[2] > box[0] and box[3] > box[1]:
            painted.append((kind, box, images_drawn))
        images_drawn += kind.endswith("-image")
    image_rects = [box for kind, box, _ in painted if kind.endswith("-image")]
    path_rects = [box for kind, box, _ in painted if kind.endswith(("-path", "-shade"))]
    min_figure_area = MIN_FIGURE_SHARE * width * height
    image_boxes = [BBox(l=l, t=t, r=r, b=b) for l, t, r, b in image_rects]  # noqa: E741 - the box's edges
    blocks.extend(
        TextBlock(bbox=box, lines=(), is_image=True)
        for box in join_images(image_boxes, width, height)
        if box.area >= min_figure_area
    )

    invisible, covered = _hidden_text(painted, width, height, see_through=set())
    if covered > 0:  # only then ask which images let what is under them show (a second pass over the page)
        invisible, covered = _hidden_text(painted, width, height, see_through=_see_through(page, images_drawn))
    return TextLayer(
        blocks=tuple(blocks),
        chars=chars,
        invisible_text_ratio=invisible,
        covered_text_ratio=covered,
        image_coverage=_coverage(image_rects, width, height),
        vector_coverage=_coverage(path_rects, width, height),
        garbled_ratio=garbled / chars if chars else 0.0,
        warnings=tuple(warnings),
    )


def _text_blocks(
    page: pymupdf.Page, width: float, height: float, max_lines: int
) -> tuple[list[TextBlock], int, int, bool]:
    """The text layer's blocks of lines, its visible and garbled character counts, and whether lines past
    ``max_lines`` were left unread. A page with right-to-left text is read with its glyphs' positions, and its
    right-to-left rows are put in logical order (``pipeline.rtl``)."""
    found = page.get_text("dict", flags=TEXT_FLAGS).get("blocks", [])
    if any(has_rtl(_span_text(s)) for b in found for ln in b.get("lines", []) for s in ln.get("spans", [])):
        found = page.get_text("rawdict", flags=TEXT_FLAGS).get("blocks", [])
    blocks: list[TextBlock] = []
    chars = garbled = read = 0
    for block in found:
        lines: list[TextLine] = []
        glyphs: list[list[Glyph]] = []
        for line in block.get("lines", []):
            if read == max_lines:
                return blocks, chars, garbled, True
            read += 1
            spans = [s for s in line.get("spans", []) if _span_text(s)]
            text = normalise_forms("".join(_span_text(s) for s in spans)).strip()
            if not text:
                continue
            visible = [c for c in text if not c.isspace()]
            chars += len(visible)
            garbled += sum(1 for c in visible if c == "\ufffd" or "\ue000" <= c <= "\uf8ff")
            size = max(float(s.get("size", 0.0)) for s in spans)
            dx, dy = line.get("dir", (1.0, 0.0))
            vertical = (1 if dy > 0 else -1) if abs(dy) > abs(dx) else 0
            box = BBox.of(line["bbox"]).clip(width, height)
            lines.append(TextLine(bbox=box, text=text, size=size, vertical=vertical))
            along = dx > 0.99  # written left to right along the page: its glyphs' x says their order
            glyphs.append(
                [Glyph(c["bbox"][0], c["bbox"][2], c["c"], len(lines)) for s in spans for c in s.get("chars", ())]
                if along
                else []
            )
        if lines:
            if any(glyphs):
                lines = _logical_rows(lines, glyphs)
            blocks.append(TextBlock(bbox=BBox.of(block["bbox"]).clip(width, height), lines=tuple(lines)))
    return join_vertical_blocks(blocks), chars, garbled, False


def _span_text(span: dict[str, Any]) -> str:
    """A span's text from ``dict`` (``text``) or ``rawdict`` (its ``chars``)."""
    if "text" in span:
        return str(span["text"])
    return "".join(c["c"] for c in span.get("chars", ()))


def _logical_rows(lines: list[TextLine], glyphs: list[list[Glyph]]) -> list[TextLine]:
    """A block's lines with each mostly right-to-left row (its lines side by side, each written along the page)
    made one line in logical order, where the row's first line was; every other line as MuPDF gave it."""
    by_line = {id(line): run for line, run in zip(lines, glyphs, strict=True)}
    position = {id(line): i for i, line in enumerate(lines)}
    rebuilt: dict[int, TextLine | None] = {}  # id of a line → the row that replaces it (None: dropped into it)
    for row in rows_of(lines):
        if not all(by_line[id(line)] for line in row):
            continue  # a turned or upside-down line (no glyph order to read), or text with no glyph places
        row_glyphs = [g for line in row for g in by_line[id(line)]]
        if not mostly_rtl(" ".join(line.text for line in row)) or not placed(row_glyphs):
            continue
        box = union_all([line.bbox for line in row])
        text = logical_row(row_glyphs, box.height)
        order = sorted(row, key=lambda line: position[id(line)])
        rebuilt[id(order[0])] = TextLine(bbox=box, text=text, size=max(line.size for line in row))
        rebuilt.update({id(line): None for line in order[1:]})
    out: list[TextLine] = []
    for line in lines:
        if id(line) not in rebuilt:
            out.append(line)
        elif (row_line := rebuilt[id(line)]) is not None:
            out.append(row_line)
    return out


def _clipped(rect: tuple[float, float, float, float], width: float, height: float) -> Rect:
    """A drawn item's box as ``BBox.of(rect).clip(width, height)`` has it, as plain numbers: a page draws thousands
    of items, and only its images become boxes of the text layer."""
    x0, y0, x1, y1 = (float(v) for v in rect)
    l, r = (min(max(v, 0.0), width) for v in (min(x0, x1), max(x0, x1)))  # noqa: E741 - the box's edges
    t, b = (min(max(v, 0.0), height) for v in (min(y0, y1), max(y0, y1)))
    return l, t, r, b


def _raster(width: float, height: float) -> tuple[npt.NDArray[np.bool_], Callable[[Rect], tuple[slice, slice]]]:
    """A coarse raster of the page (``COVERAGE_GRID`` cells a side), and the cells a box covers (at least one)."""
    grid = np.zeros((COVERAGE_GRID, COVERAGE_GRID), dtype=bool)
    fx, fy = COVERAGE_GRID / width, COVERAGE_GRID / height

    def cells(box: Rect) -> tuple[slice, slice]:
        l, t, r, b = box  # noqa: E741 - the box's edges
        top, left = int(t * fy), int(l * fx)
        return slice(top, max(top + 1, math.ceil(b * fy))), slice(left, max(left + 1, math.ceil(r * fx)))

    return grid, cells


def _coverage(boxes: list[Rect], width: float, height: float) -> float:
    """Share of the page covered by the union of ``boxes`` (measured on a coarse raster)."""
    if not boxes or width <= 0 or height <= 0:
        return 0.0
    grid, cells = _raster(width, height)
    for box in boxes:
        grid[cells(box)] = True
    return float(grid.mean())


def _see_through(page: pymupdf.Page, images_drawn: int) -> set[int]:
    """Places (in drawing order) of the page's images that have a mask or soft mask: a watermark or a stamp over
    text, which shows through them. PyMuPDF lists the images in the order it draws them; if its count differs from
    the drawing log's, none is known to be see-through."""
    info = page.get_image_info()
    if len(info) != images_drawn:
        return set()
    return {k for k, image in enumerate(info) if image.get("has-mask")}


def _hidden_text(
    painted: list[tuple[str, Rect, int]], width: float, height: float, *, see_through: set[int]
) -> tuple[float, float]:
    """Shares of the page's text area that a reader never sees: text drawn invisibly (render mode 3, as OCR tools
    lay a text layer over a scan), and text drawn visibly but then painted over by an opaque image (a scan placed
    on top of its own OCR text). Walked from the last thing drawn back to the first, so each text run is checked
    against the images drawn after it; linear in what the page draws, on a coarse raster. An image clipped to less
    than its box still counts as its whole box (the drawing log gives boxes before clipping)."""
    if width <= 0 or height <= 0:
        return 0.0, 0.0
    text, cells = _raster(width, height)
    invisible, covered, later_images = text.copy(), text.copy(), text.copy()
    for kind, box, image in reversed(painted):
        where = cells(box)
        if kind.endswith("-image"):
            if image not in see_through:
                later_images[where] = True
        elif kind == "ignore-text":
            invisible[where] = text[where] = True
        elif kind.endswith("-text"):
            text[where] = True
            covered[where] |= later_images[where]
    total = int(text.sum())
    if total == 0:
        return 0.0, 0.0
    return float(invisible.sum()) / total, float((covered & ~invisible).sum()) / total


def join_images(boxes: list[BBox], width: float, height: float) -> list[BBox]:
    """Join drawn images that overlap or touch (tiles of one picture) into figures, each the exact union of its
    images, top to bottom.

    The images are painted on a raster of ``FIGURE_CELL_PT`` cells (at most ``FIGURE_GRID_MAX`` a side) whose
    connected components (OpenCV) are the figures: linear in images plus cells however they overlap, where
    merging pairs is quadratic (4,000 images took 7.4 s that way).
    """
    if not boxes or width <= 0 or height <= 0:
        return []
    cell = max(FIGURE_CELL_PT, max(width, height) / FIGURE_GRID_MAX)
    cols, rows = max(1, math.ceil(width / cell)), max(1, math.ceil(height / cell))
    grid = np.zeros((rows, cols), dtype=np.uint8)
    anchors: list[tuple[int, int]] = []
    for box in boxes:
        top, left = min(int(box.t / cell), rows - 1), min(int(box.l / cell), cols - 1)
        grid[top : max(top + 1, math.ceil(box.b / cell)), left : max(left + 1, math.ceil(box.r / cell))] = 1
        anchors.append((top, left))
    _, labels = cv2.connectedComponents(grid, connectivity=8)
    figures: dict[int, BBox] = {}
    for box, (top, left) in zip(boxes, anchors, strict=True):
        label = int(labels[top, left])
        figures[label] = figures[label].union(box) if label in figures else box
    return sorted(figures.values(), key=lambda b: (b.t, b.l))
