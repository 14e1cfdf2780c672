"""Text inside pictures on digital pages: a banner, a logo with a slogan, a slide title rendered as an image.

The text layer has no such words, so the page's picture regions that hold no text-layer text are OCRed as
regions (crops of the page image the layout model already saw), not as the whole page, and what OCR reads joins
the graph inside the figure (source ``ocr``, its lines with boxes). A region the layout model typed as text
(a title, a heading) but that holds no text-layer text is text in an image too: it is read the same way and
keeps its type, unless it lies inside a figure that was read (then the figure holds its words).

Cost is bounded per page: at most ``limits.pictures.max_regions`` regions, the largest first, each at least
``min_area_pt2`` and ``min_side_pt``; the others are not read, and a warning says how many. ``ocr=never``
never reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.geometry import union_all
from pipeline.graph import BlockType, Provenance, Source
from pipeline.merge import DraftBlock
from pipeline.options import PictureLimits
from pipeline.page import TextLayer, TextLine

TEXT_LIKE = frozenset(
    {
        BlockType.TEXT,
        BlockType.TITLE,
        BlockType.SECTION_HEADER,
        BlockType.CAPTION,
        BlockType.LIST_ITEM,
        BlockType.FOOTNOTE,
        BlockType.CODE,
        BlockType.PAGE_HEADER,
        BlockType.PAGE_FOOTER,
    }
)
INSIDE = 0.8  # a block with this share of its area in a figure is part of that figure


@dataclass(frozen=True, slots=True)
class PictureSelection:
    regions: list[DraftBlock]  # to read, largest first
    skipped: int  # candidates past the limit


def _inside(block: DraftBlock, figure: DraftBlock) -> bool:
    return block.bbox.intersection(figure.bbox) >= INSIDE * max(block.bbox.area, 1e-6)


def _covers_text(block: DraftBlock, lines: list[TextLine]) -> bool:
    """A text-layer line has its centre in the block: the picture's words are in the text layer already."""
    return any(block.bbox.holds_centre_of(line.bbox) for line in lines)


def large_pictures(layer: TextLayer, page_area: float, limits: PictureLimits) -> bool:
    """Whether the text layer's drawn images include one covering ``limits.fast_path_min_share`` of the page with
    no text-layer text over it: what the fast path (no layout model) renders a digital page for."""
    lines = layer.lines
    return any(
        block.is_image
        and block.bbox.area >= limits.fast_path_min_share * page_area
        and not any(block.bbox.holds_centre_of(line.bbox) for line in lines)
        for block in layer.blocks
    )


def picture_regions(
    blocks: list[DraftBlock], text_lines: list[TextLine], limits: PictureLimits, *, min_area: float = 0.0
) -> PictureSelection:
    """The regions of a digital page worth reading with OCR: figures without text, and text-typed regions without
    text that lie in no figure; big enough (``limits.min_area_pt2``, or ``min_area`` where larger), with no
    text-layer text over them; at most ``limits.max_regions``."""
    figures = [b for b in blocks if b.type is BlockType.FIGURE and not b.text.strip()]
    textless = [
        b for b in blocks if b.type in TEXT_LIKE and not b.text.strip() and not any(_inside(b, f) for f in figures)
    ]
    candidates = [
        b
        for b in figures + textless
        if b.bbox.area >= max(limits.min_area_pt2, min_area)
        and min(b.bbox.width, b.bbox.height) >= limits.min_side_pt
        and not _covers_text(b, text_lines)
    ]
    candidates.sort(key=lambda b: b.bbox.area, reverse=True)
    return PictureSelection(candidates[: limits.max_regions], max(0, len(candidates) - limits.max_regions))


def _rows(lines: list[TextLine]) -> list[list[TextLine]]:
    """OCR's pieces of text as rows, top to bottom, each left to right: a piece joins the row whose vertical
    middle it spans (OCR splits a banner's line where the gaps between words are wide)."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.bbox.t + ln.bbox.b) / 2):
        middle = (line.bbox.t + line.bbox.b) / 2
        row = rows[-1] if rows else None
        if row is not None and row[0].bbox.t <= middle <= row[0].bbox.b:
            row.append(line)
        else:
            rows.append([line])
    return [sorted(row, key=lambda ln: ln.bbox.l) for row in rows]


def apply_picture_text(blocks: list[DraftBlock], region: DraftBlock, lines: list[TextLine], model: str) -> bool:
    """Put what OCR read in ``region`` (content-space lines) into it, row by row, with its provenance; a
    figure's empty text-typed blocks inside it are dropped (their words are the figure's now). False when there
    was nothing to put."""
    lines = [ln for ln in lines if ln.text.strip()]
    if not lines:
        return False
    rows = _rows(lines)
    ordered = [ln for row in rows for ln in row]
    region.text = "\n".join(" ".join(ln.text.strip() for ln in row) for row in rows)
    region.lines = ordered
    region.source = Source.OCR
    region.model = model
    region.size = max(ln.bbox.height for ln in ordered)
    union = union_all([ln.bbox for ln in ordered])
    confidence = sum(ln.confidence for ln in ordered) / len(ordered)
    region.prov.append(Provenance(source=Source.OCR, model=model, bbox=union, confidence=round(confidence, 4)))
    if region.type is BlockType.FIGURE:
        blocks[:] = [
            b for b in blocks if b is region or not (b.type in TEXT_LIKE and not b.text.strip() and _inside(b, region))
        ]
    return True
