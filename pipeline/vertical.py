"""Text written vertically in the text layer: Japanese and Chinese set top to bottom (columns read right to left),
and text turned a quarter to the left (bottom to top, lines read left to right).

MuPDF reports such text with a line direction along the page's y axis, often one glyph a line and one column a
block. Here a column's glyphs become one line, read along its direction, and the neighbouring columns of one
passage one block, in the order they are read. Linear in the lines after a sort: a page of 20,000 one-glyph lines
costs a sort.
"""

from __future__ import annotations

import re

from pipeline.geometry import BBox, union_all
from pipeline.page import TextBlock, TextLine

COLUMN_GAP = 1.5  # column widths: a larger gap along a column, or between two columns, starts another
SAME_COLUMN = 0.5  # glyph widths: two glyphs whose centres are this close across the page are in one column


def read_order(lines: list[TextLine]) -> list[TextLine]:
    """Vertical lines of one direction in the order they are read: top-to-bottom columns from the right,
    bottom-to-top lines from the left."""
    if lines and lines[0].vertical > 0:
        return sorted(lines, key=lambda ln: (-ln.bbox.r, ln.bbox.t))
    return sorted(lines, key=lambda ln: (ln.bbox.l, -ln.bbox.b))


UNSPACED = re.compile(
    "[\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff01-\uff60\uff65-\uff9f\U00020000-\U0003134f]"
)  # CJK punctuation, kana, bopomofo, ideographs, full-width forms: not Hangul (Korean puts spaces between words)


def unspaced(text: str) -> bool:
    """Chinese or Japanese only (ideographs, kana, their punctuation): written without spaces between words."""
    letters = [c for c in text if not c.isspace()]
    return bool(letters) and all(UNSPACED.match(c) for c in letters)


def join_pieces(pieces: list[str]) -> str:
    """Pieces of text (words, lines, cell lines) joined by spaces, except between Chinese or Japanese characters,
    which are written without them (Korean is written with them)."""
    out = ""
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        out = out + piece if out and unspaced(out[-1]) and unspaced(piece[0]) else f"{out} {piece}" if out else piece
    return out


def columns(lines: list[TextLine]) -> list[TextLine]:
    """Vertical lines of one direction joined into columns (glyphs centred within half a glyph's width across the
    page, each close after the one before along it), each column one line read along its direction; in the order
    the columns are read."""
    direction = lines[0].vertical
    across = sorted(lines, key=lambda ln: (ln.bbox.l + ln.bbox.r) / 2)  # side by side first, then along: O(n log n)
    strips: list[list[TextLine]] = []
    for line in across:
        first = strips[-1][0].bbox if strips else None
        centre = (line.bbox.l + line.bbox.r) / 2
        if first is not None and centre - (first.l + first.r) / 2 <= SAME_COLUMN * max(first.width, line.bbox.width):
            strips[-1].append(line)
        else:
            strips.append([line])
    cols: list[list[TextLine]] = []
    for strip in strips:
        strip.sort(key=lambda ln: ln.bbox.t if direction > 0 else -ln.bbox.b)
        col = [strip[0]]
        for line in strip[1:]:
            last, box = col[-1].bbox, line.bbox
            gap = box.t - last.b if direction > 0 else last.t - box.b
            if gap <= COLUMN_GAP * max(last.width, box.width):
                col.append(line)
            else:
                cols.append(col)
                col = [line]
        cols.append(col)
    joined = [
        TextLine(
            bbox=union_all([ln.bbox for ln in col]),
            text=("" if all(unspaced(ln.text) or len(ln.text) == 1 for ln in col) else " ").join(ln.text for ln in col),
            size=max(ln.size for ln in col),
            confidence=min(ln.confidence for ln in col),
            vertical=direction,
        )
        for col in cols
    ]
    return read_order(joined)


def _direction(block: TextBlock) -> int:
    """The vertical direction every line of the block shares, or 0."""
    found = {line.vertical for line in block.lines}
    return found.pop() if len(found) == 1 and not block.is_image and block.lines else 0


def join_vertical_blocks(blocks: list[TextBlock]) -> list[TextBlock]:
    """Blocks whose lines all run vertically, as columns; consecutive such blocks of one passage (side by side,
    sharing most of their height, a column's width or so apart) joined into one, where the first of them was.
    Other blocks unchanged. One pass over the blocks, then one sort a passage."""
    out: list[TextBlock | list[TextBlock]] = []  # a list: the vertical blocks of one passage, joined at the end
    box, direction, width = None, 0, 0.0  # the last passage's extent, direction and widest glyph
    for block in blocks:
        this = _direction(block)
        last = out[-1] if out else None
        if this == 0:
            out.append(block)
            continue
        this_width = max(ln.bbox.width for ln in block.lines)
        if (
            isinstance(last, list)
            and box is not None
            and this == direction
            and _same_passage(box, block.bbox, max(width, this_width))
        ):
            last.append(block)
            box, width = box.union(block.bbox), max(width, this_width)
            continue
        out.append([block])
        box, direction, width = block.bbox, this, this_width
    joined: list[TextBlock] = []
    for item in out:
        if isinstance(item, TextBlock):
            joined.append(item)
            continue
        lines = columns([ln for b in item for ln in b.lines])
        joined.append(TextBlock(bbox=union_all([ln.bbox for ln in lines]), lines=tuple(lines)))
    return joined


def _same_passage(box: BBox, other: BBox, width: float) -> bool:
    shared_height = min(box.b, other.b) - max(box.t, other.t)
    gap = max(box.l, other.l) - min(box.r, other.r)
    return shared_height >= SAME_COLUMN * min(box.height, other.height) and gap <= COLUMN_GAP * width
