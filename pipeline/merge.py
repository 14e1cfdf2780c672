"""Merge layout regions with text (text-layer lines or OCR lines) into typed blocks, in reading order.

Rules, all in content space (PDF points):
- a text line belongs to the layout region that covers most of it (at least half of its area);
  a region's text is its lines in reading order;
- lines no region covers keep their own text-layer / OCR block, typed by font heuristics: nothing is dropped;
- regions without text (figures, or text in an image) stay as blocks with empty text;
- two regions of different labels on the same spot (IoU ≥ 0.7) become one block typed by the higher score,
  with the other kept as provenance;
- without layout, a text block is a section header when its font is clearly larger than the page's body
  text, and image placements become figures.

Scanned pages read by an OCR model that labels and locates its blocks (DeepSeek-OCR) go through
``merge_labelled_ocr`` instead: OCR blocks are matched one-to-one to layout regions by IoU, the type is
decided by agreement or else by the more confident side, unmatched blocks of either side are kept with
their source, and the reading order is the OCR model's emission order (layout-only blocks slot in where
XY-cut puts them).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import numpy.typing as npt

from pipeline import vertical
from pipeline.geometry import BBox, union_all
from pipeline.graph import BlockType, Provenance, Source
from pipeline.order import page_order, reading_order
from pipeline.page import TextBlock, TextLine
from pipeline.regions import dedupe, rejoin_pieces
from pipeline.rtl import mostly_rtl
from pipeline.tablegrid import TableGrid
from pipeline.tables import rows_of

LINE_IN_REGION = 0.5
HEADER_SIZE_RATIO = 1.2
HEADER_MAX_CHARS = 200
TEXT_LAYER_MODEL = "pymupdf"


@dataclass(frozen=True, slots=True)
class Region:
    """A layout region in content-space points."""

    type: BlockType
    label: str
    bbox: BBox
    score: float
    model: str


@dataclass(frozen=True, slots=True)
class OcrRegion:
    """A labelled OCR block in content-space points; ``index`` is its place in the model's output."""

    type: BlockType | None
    label: str | None
    bbox: BBox
    text: str
    confidence: float
    index: int


MATCH_IOU = 0.5


@dataclass(slots=True)
class DraftBlock:
    """A block before it gets its id: content-space bbox."""

    type: BlockType
    bbox: BBox
    text: str
    source: Source
    model: str | None
    confidence: float
    prov: list[Provenance] = field(default_factory=list)
    table: TableGrid | None = None  # a table's cells, once its structure was read (content space)
    lines: list[TextLine] = field(default_factory=list)  # the lines merged into it, in reading order
    words: list[TextLine] = field(default_factory=list)  # its words (detail=words, text-layer pages)
    latex: str | None = None  # a formula's LaTeX, when the model that read it writes LaTeX (DeepSeek-OCR)
    size: float = 0.0  # font size of its largest line in points (text layer), or its line height (OCR); 0: no text


def merge_page(
    groups: list[TextBlock],
    *,
    text_source: Source,
    text_model: str,
    regions: list[Region] | None,
    turns: int = 0,
) -> list[DraftBlock]:
    """Blocks of one page in reading order. ``groups`` are text blocks (lines grouped) or image placements;
    ``turns``: quarter turns (counter-clockwise) that make the page's text run along it (``route.sideways_turns``).

    A page written mostly in vertical columns keeps the text layer's passages: the layout model (trained on
    horizontal pages) cuts columns apart and takes the top of a page of tategaki for its header; it still places
    the page's figures and tables. A page read right to left (mostly Arabic or Hebrew, or vertical columns) has
    its blocks ordered from the right."""
    direction = _page_direction([ln for g in groups for ln in g.lines])
    if regions is not None and direction is PageDirection.VERTICAL:
        regions = [r for r in regions if r.type in (BlockType.FIGURE, BlockType.TABLE, BlockType.FORMULA)]
    if regions is None:
        blocks = _blocks_without_layout(groups, text_source, text_model)
    else:
        blocks = _blocks_with_layout(groups, dedupe(regions), text_source, text_model)
    order = page_order(
        [b.bbox for b in blocks],
        right_to_left=direction is not PageDirection.LEFT_TO_RIGHT,
        turns=turns,
        first={i for i, b in enumerate(blocks) if b.type is BlockType.PAGE_HEADER},
        last={i for i, b in enumerate(blocks) if b.type is BlockType.PAGE_FOOTER},
    )
    return [blocks[i] for i in order]


class PageDirection(Enum):
    LEFT_TO_RIGHT = "ltr"
    RIGHT_TO_LEFT = "rtl"  # rows read from the right: Arabic, Hebrew
    VERTICAL = "vertical"  # columns top to bottom, from the right: Japanese, Chinese


def _page_direction(lines: list[TextLine]) -> PageDirection:
    """How most of a page's text (by characters) is read."""
    # Chinese or Japanese set in columns; Latin turned a quarter is read by lines, as a horizontal page is
    in_columns = sum(len(ln.text) for ln in lines if ln.vertical > 0 and vertical.unspaced(ln.text))
    if in_columns * 2 > sum(len(ln.text) for ln in lines):
        return PageDirection.VERTICAL
    return PageDirection.RIGHT_TO_LEFT if mostly_rtl(" ".join(ln.text for ln in lines)) else PageDirection.LEFT_TO_RIGHT


def merge_labelled_ocr(ocr: list[OcrRegion], regions: list[Region] | None, *, model: str) -> list[DraftBlock]:
    """Blocks of a page whose OCR came as typed, located blocks, in the OCR model's reading order."""
    kept = dedupe(regions or [])
    used: set[int] = set()
    blocks: list[DraftBlock] = []
    emitted: list[int | None] = []  # OCR emission index per block; None for layout-only blocks
    for item in sorted(ocr, key=lambda o: o.index):
        best, best_iou = -1, 0.0
        for k, (region, _) in enumerate(kept):
            iou = region.bbox.iou(item.bbox)
            if k not in used and iou > best_iou:
                best, best_iou = k, iou
        prov = [
            Provenance(source=Source.OCR, model=model, bbox=item.bbox, confidence=item.confidence, label=item.label)
        ]
        block_type, confidence, bbox = item.type or BlockType.TEXT, item.confidence, item.bbox
        type_model = model
        if best >= 0 and best_iou >= MATCH_IOU:
            used.add(best)
            region, others = kept[best]
            prov += [_layout_prov(region)] + [_layout_prov(o) for o in others]
            bbox = region.bbox  # the detector's box: pixel-precise, where the OCR box is on a 0-999 grid
            if item.type is None or region.type is item.type:
                block_type = region.type
                confidence = 1.0 - (1.0 - region.score) * (1.0 - item.confidence) if item.type else region.score
                type_model = region.model
            elif region.score > item.confidence:
                block_type, confidence, type_model = region.type, region.score, region.model
        latex = strip_math_delimiters(item.text) if block_type is BlockType.FORMULA and item.text else None
        blocks.append(
            DraftBlock(
                type=block_type,
                bbox=bbox,
                text=latex or item.text,
                source=Source.OCR if item.text else Source.LAYOUT,
                model=type_model,
                confidence=confidence,
                prov=prov,
                latex=latex,
            )
        )
        emitted.append(item.index)
    for k, (region, others) in enumerate(kept):
        if k not in used:
            prov = [_layout_prov(region)] + [_layout_prov(o) for o in others]
            blocks.append(DraftBlock(region.type, region.bbox, "", Source.LAYOUT, region.model, region.score, prov))
            emitted.append(None)
    return [blocks[i] for i in _emission_order(blocks, emitted)]


def _emission_order(blocks: list[DraftBlock], emitted: list[int | None]) -> list[int]:
    """OCR blocks in emission order; each layout-only block right before the OCR block that follows it in
    XY-cut order (or last, if none does)."""
    keys: dict[int, tuple[float, int, int]] = {}
    following: float = float("inf")
    xy = reading_order([b.bbox for b in blocks])
    for position in range(len(xy) - 1, -1, -1):
        i = xy[position]
        index = emitted[i]
        if index is not None:
            following = index
            keys[i] = (index, 1, 0)
        else:
            keys[i] = (following, 0, position)
    return sorted(range(len(blocks)), key=lambda i: keys[i])


def _blocks_with_layout(
    groups: list[TextBlock], regions: list[tuple[Region, list[Region]]], source: Source, model: str
) -> list[DraftBlock]:
    assigned: list[list[TextLine]] = [[] for _ in regions]
    region_boxes = _boxes([region.bbox for region, _ in regions])
    leftovers: list[TextBlock] = []
    page_lines = tuple(ln for g in groups if not g.is_image for ln in g.lines)
    best_of = iter(_regions_of(page_lines, region_boxes))  # every text line of the page at once, in the loop's order
    for group in groups:
        if group.is_image:
            if not any(r.type is BlockType.FIGURE and r.bbox.intersection(group.bbox) > 0 for r, _ in regions):
                leftovers.append(group)
            continue
        rest: list[TextLine] = []
        for line in group.lines:
            best = next(best_of)
            if best >= 0:
                assigned[best].append(line)
            else:
                rest.append(line)
        if rest:
            leftovers.append(TextBlock(bbox=union_all([ln.bbox for ln in rest]), lines=tuple(rest)))
    regions, assigned = rejoin_pieces(regions, assigned)
    blocks: list[DraftBlock] = []
    for (region, others), lines in zip(regions, assigned, strict=True):
        prov = [_layout_prov(region)] + [_layout_prov(o) for o in others]
        ordered: list[TextLine] = []
        if lines:
            # a table's text is regrouped into rows by _join, so its cells need no reading order here
            ordered = lines if region.type is BlockType.TABLE else _ordered(lines)
            prov.append(_text_prov(union_all([ln.bbox for ln in ordered]), source, model, ordered))
            text = _join(ordered, region.type)
            text_source = source
        else:
            text, text_source = "", Source.LAYOUT
        blocks.append(
            DraftBlock(
                type=region.type,
                bbox=region.bbox,
                text=text,
                source=text_source,
                model=region.model,
                confidence=region.score,
                prov=prov,
                size=line_size(lines),
                lines=ordered,
            )
        )
    blocks.extend(_blocks_without_layout(leftovers, source, model))
    return blocks


def _boxes(boxes: list[BBox]) -> npt.NDArray[np.float64]:
    return np.array([(b.l, b.t, b.r, b.b) for b in boxes], dtype=np.float64).reshape(-1, 4)


def _regions_of(lines: tuple[TextLine, ...], regions: npt.NDArray[np.float64]) -> list[int]:
    """For each line, the region (index into ``regions``, an (n, 4) array of boxes) that covers most of it, if
    that is at least ``LINE_IN_REGION`` of its area; ties to the smaller region (then the first); -1: none. All
    lines against all regions at once."""
    if len(regions) == 0:
        return [-1] * len(lines)
    ln = _boxes([line.bbox for line in lines])[:, None, :]
    w = np.minimum(ln[..., 2], regions[:, 2]) - np.maximum(ln[..., 0], regions[:, 0])
    h = np.minimum(ln[..., 3], regions[:, 3]) - np.maximum(ln[..., 1], regions[:, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    area = np.maximum(0.0, ln[..., 2] - ln[..., 0]) * np.maximum(0.0, ln[..., 3] - ln[..., 1])
    cover = inter / np.maximum(area, 1e-6)
    best_cover = cover.max(axis=1)
    region_area = np.maximum(0.0, regions[:, 2] - regions[:, 0]) * np.maximum(0.0, regions[:, 3] - regions[:, 1])
    best = np.argmin(np.where(cover == best_cover[:, None], region_area, np.inf), axis=1)
    found: list[int] = np.where((best_cover > 0) & (best_cover >= LINE_IN_REGION), best, -1).tolist()
    return found


def _blocks_without_layout(groups: list[TextBlock], source: Source, model: str) -> list[DraftBlock]:
    sizes = [ln.size for g in groups for ln in g.lines for _ in range(len(ln.text)) if ln.size > 0]
    body = statistics.median(sizes) if sizes else 0.0
    blocks: list[DraftBlock] = []
    for group in groups:
        if group.is_image:
            prov = Provenance(source=Source.TEXT_LAYER, model=TEXT_LAYER_MODEL, bbox=group.bbox, label="image")
            blocks.append(
                DraftBlock(BlockType.FIGURE, group.bbox, "", Source.TEXT_LAYER, TEXT_LAYER_MODEL, 1.0, [prov])
            )
            continue
        lines = list(group.lines)
        text = _join(lines, BlockType.TEXT)
        size = max(ln.size for ln in lines)
        is_header = body > 0 and size >= HEADER_SIZE_RATIO * body and len(text) <= HEADER_MAX_CHARS
        block_type = BlockType.SECTION_HEADER if is_header else BlockType.TEXT
        confidence = min(ln.confidence for ln in lines) if source is Source.OCR else (0.6 if is_header else 1.0)
        blocks.append(
            DraftBlock(
                type=block_type,
                bbox=group.bbox,
                text=text,
                source=source,
                model=model,
                confidence=confidence,
                prov=[_text_prov(group.bbox, source, model, lines)],
                size=line_size(lines),
                lines=lines,
            )
        )
    return blocks


_MATH_DELIMITERS = (("\\[", "\\]"), ("$$", "$$"), ("\\(", "\\)"), ("$", "$"))


def strip_math_delimiters(text: str) -> str:
    """LaTeX as DeepSeek-OCR writes a formula (``\\[ … \\]``, ``$$ … $$``) without its display delimiters."""
    body = text.strip()
    for left, right in _MATH_DELIMITERS:
        if body.startswith(left) and body.endswith(right) and len(body) > len(left) + len(right):
            return body[len(left) : -len(right)].strip()
    return body


def line_size(lines: list[TextLine]) -> float:
    """The size a block's text is set in: its largest font size, or (OCR, no font sizes) its median line height."""
    if not lines:
        return 0.0
    sized = [ln.size for ln in lines if ln.size > 0]
    return max(sized) if sized else statistics.median(ln.bbox.height for ln in lines)


def _ordered(lines: list[TextLine]) -> list[TextLine]:
    if len({ln.vertical for ln in lines}) == 1 and lines[0].vertical:
        return vertical.read_order(lines)  # columns: from the right (vertical CJK), or lines turned left
    return [lines[i] for i in reading_order([ln.bbox for ln in lines])]


def _join(lines: list[TextLine], block_type: BlockType) -> str:
    if block_type is BlockType.TABLE:
        return "\n".join(" | ".join(c.text.strip() for c in row) for row in rows_of(lines))
    out = ""
    for line in lines:
        text = line.text.strip()
        if not out:
            out = text
        elif out.endswith("-") and text[:1].islower():
            out = out[:-1] + text  # de-hyphenate a word broken across lines
        elif vertical.unspaced(out[-1]) and vertical.unspaced(text[0]):
            out += text  # Chinese and Japanese break lines between characters, not at spaces
        else:
            out = f"{out} {text}"
    return out


def _layout_prov(region: Region) -> Provenance:
    return Provenance(
        source=Source.LAYOUT, model=region.model, bbox=region.bbox, confidence=region.score, label=region.label
    )


def _text_prov(bbox: BBox, source: Source, model: str, lines: list[TextLine]) -> Provenance:
    confidence = statistics.fmean(ln.confidence for ln in lines) if lines else None
    return Provenance(source=source, model=model, bbox=bbox, confidence=confidence)


def group_lines(lines: list[TextLine]) -> list[TextBlock]:
    """Group OCR lines into paragraph-like blocks: a line joins the block above it when it starts close
    below it (under one line height) and overlaps it horizontally."""
    blocks: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.bbox.t, ln.bbox.l)):
        height = max(line.bbox.height, 1.0)
        for group in reversed(blocks):
            last = group[-1]
            overlap = min(last.bbox.r, line.bbox.r) - max(last.bbox.l, line.bbox.l)
            gap = line.bbox.t - last.bbox.b
            if overlap > 0.3 * min(last.bbox.width, line.bbox.width) and -0.5 * height <= gap <= 0.9 * height:
                group.append(line)
                break
        else:
            blocks.append([line])
    return [TextBlock(bbox=union_all([ln.bbox for ln in g]), lines=tuple(g)) for g in blocks]


def attach_ocr_evidence(blocks: list[DraftBlock], ocr_lines: list[TextLine], model: str) -> None:
    """Add what OCR read inside each block as provenance (``ocr=always`` on a digital page: compare both)."""
    for block in blocks:
        inside = [
            ln for ln in ocr_lines if block.bbox.intersection(ln.bbox) >= LINE_IN_REGION * max(ln.bbox.area, 1e-6)
        ]
        if inside:
            ordered = _ordered(inside)
            prov = _text_prov(union_all([ln.bbox for ln in ordered]), Source.OCR, model, ordered)
            block.prov.append(prov.model_copy(update={"text": _join(ordered, block.type)}))
