"""Reading a page's own text layer with PyMuPDF, and the facts that classify the page.

Everything is in content space (the unrotated page), as PyMuPDF reports it.
"""

from __future__ import annotations

import numpy as np
import pymupdf

from pipeline.geometry import BBox
from pipeline.page import TextBlock, TextLayer, TextLine

TEXT_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP
COVERAGE_GRID = 128  # cells per side of the raster that measures how much of the page a kind of content covers


def extract_text_layer(page: pymupdf.Page) -> TextLayer:
    content = page.rect * page.derotation_matrix
    width, height = abs(content.width), abs(content.height)
    raw = page.get_text("dict", flags=TEXT_FLAGS)
    blocks: list[TextBlock] = []
    chars = 0
    garbled = 0
    for block in raw.get("blocks", []):
        lines: list[TextLine] = []
        for line in block.get("lines", []):
            spans = [s for s in line.get("spans", []) if s.get("text")]
            text = "".join(s["text"] for s in spans).strip()
            if not text:
                continue
            visible = [c for c in text if not c.isspace()]
            chars += len(visible)
            garbled += sum(1 for c in visible if c == "\ufffd" or "\ue000" <= c <= "\uf8ff")
            lines.append(
                TextLine(
                    bbox=BBox.of(line["bbox"]).clip(width, height),
                    text=text,
                    size=max(float(s.get("size", 0.0)) for s in spans),
                )
            )
        if lines:
            blocks.append(TextBlock(bbox=BBox.of(block["bbox"]).clip(width, height), lines=tuple(lines)))

    text_boxes: list[BBox] = []
    invisible_boxes: list[BBox] = []
    image_boxes: list[BBox] = []
    path_boxes: list[BBox] = []
    for kind, rect in page.get_bboxlog():
        box = BBox.of(rect).clip(width, height)
        if box.area <= 0:
            continue
        if kind == "ignore-text":
            invisible_boxes.append(box)
        elif kind.endswith("-text"):
            text_boxes.append(box)
        elif kind.endswith("-image"):
            image_boxes.append(box)
        elif kind.endswith(("-path", "-shade")):
            path_boxes.append(box)
    min_figure_area = 0.002 * width * height  # skip bullets and rules drawn as tiny images
    blocks.extend(
        TextBlock(bbox=box, lines=(), is_image=True)
        for box in _merge_overlapping(image_boxes)
        if box.area >= min_figure_area
    )

    visible_area = _coverage(text_boxes, width, height)
    invisible_area = _coverage(invisible_boxes, width, height)
    text_area = visible_area + invisible_area
    return TextLayer(
        blocks=tuple(blocks),
        chars=chars,
        invisible_text_ratio=invisible_area / text_area if text_area > 0 else 0.0,
        image_coverage=_coverage(image_boxes, width, height),
        vector_coverage=_coverage(path_boxes, width, height),
        garbled_ratio=garbled / chars if chars else 0.0,
    )


def _coverage(boxes: list[BBox], width: float, height: float) -> float:
    """Share of the page covered by the union of ``boxes`` (measured on a coarse raster)."""
    if not boxes or width <= 0 or height <= 0:
        return 0.0
    grid = np.zeros((COVERAGE_GRID, COVERAGE_GRID), dtype=bool)
    fx, fy = COVERAGE_GRID / width, COVERAGE_GRID / height
    for box in boxes:
        grid[int(box.t * fy) : max(int(box.t * fy) + 1, int(np.ceil(box.b * fy))),
             int(box.l * fx) : max(int(box.l * fx) + 1, int(np.ceil(box.r * fx)))] = True  # fmt: skip
    return float(grid.mean())


def _merge_overlapping(boxes: list[BBox]) -> list[BBox]:
    """Union boxes that overlap (tiled images become one figure)."""
    merged: list[BBox] = []
    for box in sorted(boxes, key=lambda b: (b.t, b.l)):
        for i, other in enumerate(merged):
            if other.intersection(box) > 0:
                merged[i] = other.union(box)
                break
        else:
            merged.append(box)
    return merged
