"""Reading a page's own text layer with PyMuPDF, and the facts that classify the page.

Everything is in content space (the unrotated page), as PyMuPDF reports it. Nothing here grows faster than the
page's primitives (text lines, drawn images and paths), and those are capped (``max_primitives``): a hostile
page that draws 25,000 images costs what 20,000 do, and says so in a warning.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pymupdf
from pymupdf import mupdf

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
GARBLED = re.compile("[\ufffd\ue000-\uf8ff]")  # a replacement or private-use character: a glyph not mapped to text
MIN_FIGURE_SHARE = 0.002  # of the page area: smaller images are bullets and rules, not figures


def extract_text_layer(page: pymupdf.Page, *, max_primitives: int) -> TextLayer:
    content = page.rect * page.derotation_matrix
    width, height = abs(content.width), abs(content.height)
    recorded = _recorded(page)
    blocks, chars, garbled, cut = _text_blocks(page, recorded, width, height, max_primitives)
    warnings: list[str] = []
    if cut:
        warnings.append(
            f"the page has more than {max_primitives} text lines: only the first {max_primitives} were read"
        )

    drawn = _drawing_log(recorded)
    if len(drawn) > max_primitives:
        warnings.append(
            f"the page draws {len(drawn)} items (text runs, images, paths): only the first {max_primitives} were "
            "analysed for figures and coverage"
        )
        drawn = drawn[:max_primitives]
    log = _DrawingLog.of(drawn, width, height)
    min_figure_area = MIN_FIGURE_SHARE * width * height
    image_boxes = [BBox(l=l, t=t, r=r, b=b) for l, t, r, b in log.boxes[log.images].tolist()]  # noqa: E741
    blocks.extend(
        TextBlock(bbox=box, lines=(), is_image=True)
        for box in join_images(image_boxes, width, height)
        if box.area >= min_figure_area
    )

    invisible, covered = _hidden_text(log, width, height, see_through=set())
    if covered > 0:  # only then ask which images let what is under them show (a second pass over the page)
        invisible, covered = _hidden_text(log, width, height, see_through=_see_through(page, log.images_drawn))
    return TextLayer(
        blocks=tuple(blocks),
        chars=chars,
        invisible_text_ratio=invisible,
        covered_text_ratio=covered,
        image_coverage=_coverage(log.boxes[log.images], width, height),
        vector_coverage=_coverage(log.boxes[log.paths], width, height),
        garbled_ratio=garbled / chars if chars else 0.0,
        warnings=tuple(warnings),
    )


def _recorded(page: pymupdf.Page) -> pymupdf.DisplayList:
    """What the page draws (annotations included), recorded once in content space (the unrotated page, as
    ``Page.get_textpage`` and ``Page.get_bboxlog`` read it): its text and its drawing log are both read from this
    record, the page's content interpreted once instead of twice (the same text and log: tests/pipeline/
    test_text_layers.py)."""
    rotation = page.rotation
    if rotation:
        page.set_rotation(0)
    try:
        recorded: pymupdf.DisplayList = page.get_displaylist()
        return recorded
    finally:
        if rotation:
            page.set_rotation(rotation)


def _drawing_log(recorded: pymupdf.DisplayList) -> list[tuple[str, Any]]:
    """``Page.get_bboxlog()`` read from the page's record: PyMuPDF's own bbox-log device run over it."""
    log: list[tuple[str, Any]] = []
    device = pymupdf.JM_new_bbox_device(log, False)
    everywhere = mupdf.FzRect(mupdf.FzRect.Fixed_INFINITE)
    mupdf.fz_run_display_list(recorded.this, device, mupdf.FzMatrix(), everywhere, mupdf.FzCookie())
    mupdf.fz_close_device(device)
    return log


def _text_blocks(
    page: pymupdf.Page, recorded: pymupdf.DisplayList, width: float, height: float, max_lines: int
) -> tuple[list[TextBlock], int, int, bool]:
    """The text layer's blocks of lines, its visible and garbled character counts, and whether lines past
    ``max_lines`` were left unread. A page with right-to-left text is read with its glyphs' positions, and its
    right-to-left rows are put in logical order (``pipeline.rtl``)."""
    made = recorded.get_textpage(flags=TEXT_FLAGS)  # read once: its text, then its blocks
    textpage = made if isinstance(made, pymupdf.TextPage) else pymupdf.TextPage(made)  # PyMuPDF 2.0 gives the raw one
    textpage.parent = page
    rtl = has_rtl(page.get_text("text", textpage=textpage))
    found = page.get_text("rawdict" if rtl else "dict", textpage=textpage).get("blocks", [])
    blocks: list[TextBlock] = []
    chars = garbled = read = 0
    for block in found:
        lines: list[TextLine] = []
        glyphs: list[list[Glyph]] = []
        for line in block.get("lines", []):
            if read == max_lines:
                return blocks, chars, garbled, True
            read += 1
            read_spans = [(s, t) for s in line.get("spans", []) if (t := _span_text(s))]
            spans = [s for s, _ in read_spans]
            text = normalise_forms("".join(t for _, t in read_spans)).strip()
            if not text:
                continue
            chars += sum(map(len, text.split()))  # visible characters (split drops what str.isspace calls space)
            garbled += len(GARBLED.findall(text))
            size = max(float(s.get("size", 0.0)) for s in spans)
            dx, dy = line.get("dir", (1.0, 0.0))
            vertical = (1 if dy > 0 else -1) if abs(dy) > abs(dx) else 0
            box = BBox.clipped(line["bbox"], width, height)
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
            blocks.append(TextBlock(bbox=BBox.clipped(block["bbox"], width, height), lines=tuple(lines)))
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


@dataclass(frozen=True, slots=True)
class _DrawingLog:
    """What a page draws (``get_bboxlog``), as arrays: the items whose box, clipped to the page (content space),
    is not empty, in drawing order. A page draws thousands of items: they are handled as arrays, never one by one
    in Python, except to walk back over text that an image drawn later may cover."""

    kinds: list[str]  # the drawn items' kinds ("fill-text", "ignore-text", "fill-image", "stroke-path", ...)
    boxes: npt.NDArray[np.float64]  # (n, 4): left, top, right, bottom
    image_place: npt.NDArray[np.int64]  # an item's place among the page's images (all of them, empty boxes too)
    images: npt.NDArray[np.bool_]
    paths: npt.NDArray[np.bool_]  # paths and shadings
    images_drawn: int  # images the page draws, empty boxes included

    @classmethod
    def of(cls, drawn: list[tuple[str, Any]], width: float, height: float) -> _DrawingLog:
        kinds = [kind for kind, _ in drawn]
        is_image = np.fromiter((k.endswith("-image") for k in kinds), dtype=bool, count=len(kinds))
        rects = np.array([tuple(rect) for _, rect in drawn], dtype=np.float64).reshape(-1, 4)
        # as BBox.clipped(rect, width, height) has it: edges ordered, then each clipped to the page
        x = np.clip(np.sort(rects[:, [0, 2]], axis=1), 0.0, width)
        y = np.clip(np.sort(rects[:, [1, 3]], axis=1), 0.0, height)
        boxes = np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        place = np.cumsum(is_image) - is_image  # images drawn before each item
        kept = [k for k, on in zip(kinds, keep.tolist(), strict=True) if on]
        paths = np.fromiter((k.endswith(("-path", "-shade")) for k in kept), dtype=bool, count=len(kept))
        return cls(kept, boxes[keep], place[keep], is_image[keep], paths, int(is_image.sum()))


def _cells(boxes: npt.NDArray[np.float64], width: float, height: float) -> npt.NDArray[np.int64]:
    """The raster cells (``COVERAGE_GRID`` a side) each box covers, at least one: (n, 4) top, bottom, left, right
    (bottom and right exclusive)."""
    fx, fy = COVERAGE_GRID / width, COVERAGE_GRID / height
    top, left = (boxes[:, 1] * fy).astype(np.int64), (boxes[:, 0] * fx).astype(np.int64)
    bottom = np.maximum(top + 1, np.ceil(boxes[:, 3] * fy).astype(np.int64))
    right = np.maximum(left + 1, np.ceil(boxes[:, 2] * fx).astype(np.int64))
    cells: npt.NDArray[np.int64] = np.minimum(np.stack([top, bottom, left, right], axis=1), COVERAGE_GRID)
    return cells


def _painted(cells: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """The raster with every cell of ``cells`` set (their union), in one pass over a difference array."""
    diff = np.zeros((COVERAGE_GRID + 1, COVERAGE_GRID + 1), dtype=np.int32)
    top, bottom, left, right = cells.T
    np.add.at(diff, (top, left), 1)
    np.add.at(diff, (top, right), -1)
    np.add.at(diff, (bottom, left), -1)
    np.add.at(diff, (bottom, right), 1)
    return np.cumsum(np.cumsum(diff, axis=0), axis=1)[:COVERAGE_GRID, :COVERAGE_GRID] > 0


def _coverage(boxes: npt.NDArray[np.float64], width: float, height: float) -> float:
    """Share of the page covered by the union of ``boxes`` (measured on a coarse raster)."""
    if len(boxes) == 0 or width <= 0 or height <= 0:
        return 0.0
    return float(_painted(_cells(boxes, width, height)).mean())


def _see_through(page: pymupdf.Page, images_drawn: int) -> set[int]:
    """Places (in drawing order) of the page's images that have a mask or soft mask: a watermark or a stamp over
    text, which shows through them. PyMuPDF lists the images in the order it draws them; if its count differs from
    the drawing log's, none is known to be see-through."""
    info = page.get_image_info()
    if len(info) != images_drawn:
        return set()
    return {k for k, image in enumerate(info) if image.get("has-mask")}


def _hidden_text(log: _DrawingLog, width: float, height: float, *, see_through: set[int]) -> tuple[float, float]:
    """Shares of the page's text area that a reader never sees: text drawn invisibly (render mode 3, as OCR tools
    lay a text layer over a scan), and text drawn visibly but then painted over by an opaque image (a scan placed
    on top of its own OCR text). Each text run is checked against the images drawn after it, on a coarse raster;
    linear in what the page draws. An image clipped to less than its box still counts as its whole box (the
    drawing log gives boxes before clipping)."""
    if width <= 0 or height <= 0:
        return 0.0, 0.0
    cells = _cells(log.boxes, width, height)
    is_text = np.fromiter((k.endswith("-text") for k in log.kinds), dtype=bool, count=len(log.kinds)) & ~log.images
    ignored = np.fromiter((k == "ignore-text" for k in log.kinds), dtype=bool, count=len(log.kinds))
    text = _painted(cells[is_text])
    total = int(text.sum())
    if total == 0:
        return 0.0, 0.0
    invisible = _painted(cells[ignored])
    opaque = log.images & ~np.isin(log.image_place, list(see_through))
    visible = is_text & ~ignored
    covered = np.zeros_like(text)
    if opaque.any():
        # only visible text drawn before the last opaque image can be covered: walked back from that image
        later_images = np.zeros_like(text)
        last = int(np.flatnonzero(opaque)[-1]) + 1
        for (top, bottom, left, right), image, seen in zip(
            reversed(cells[:last].tolist()),
            reversed(opaque[:last].tolist()),
            reversed(visible[:last].tolist()),
            strict=True,
        ):
            if image:
                later_images[top:bottom, left:right] = True
            elif seen:
                covered[top:bottom, left:right] |= later_images[top:bottom, left:right]
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
