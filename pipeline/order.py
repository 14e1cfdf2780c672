"""Reading order by recursive XY-cut, made safe for multi-column pages.

Plain XY-cut takes the widest gap first and so cuts a two-column page horizontally wherever both columns
happen to have a paragraph break at the same height (reading L1 R1 L2 R2). Here a node is cut vertically
whenever a gutter runs through all of it; otherwise it is sliced into horizontal strips, and neighbouring
strips that share a gutter are merged back before recursing, so each column is read top to bottom before
the next, while full-width elements (titles, wide figures) still separate column sections.

A page (``page_order``) is cut the same way, with three things set aside first, as none of them is part of the
columns' flow and each can bridge a gutter: the page's headers and footers (read first and last), and lines set
sideways in the page's margin (a thin box beside all the rest: a print-shop line, an archive stamp; read after the
body). And a strip across the top of the page that holds text over some of the columns below but not all (a header
band: a title on the left, the issue's date on the right) is read before the columns, not as their first lines.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence

from pipeline.geometry import BBox

MIN_GUTTER = 6.0  # points: narrower vertical gaps are word spacing, not columns
MIN_ROW_GAP = 0.5  # points: horizontal gaps between rows
MARGIN_LINE_RATIO = 4.0  # a box this many times taller than wide, beside all the rest: a line set sideways
BAND_MIN_COLUMNS = 3  # a header band is told from the columns' first lines only over this many columns


def reading_order(boxes: Sequence[BBox], *, right_to_left: bool = False, turns: int = 0) -> list[int]:
    """Indices of ``boxes`` in reading order: columns left to right, each top to bottom; with ``right_to_left``
    (Arabic, Hebrew, vertical Japanese) columns from the right, the same cut on the page seen in a mirror. ``turns``:
    quarter turns (counter-clockwise) that make the page's text run along it (a page whose text runs sideways):
    the cut is made on the page so turned (the order does not depend on where the origin is)."""
    framed = _framed(boxes, right_to_left, turns)
    return _order(list(range(len(framed))), framed, bands=False)


def page_order(
    boxes: Sequence[BBox],
    *,
    right_to_left: bool = False,
    turns: int = 0,
    first: Collection[int] = (),
    last: Collection[int] = (),
) -> list[int]:
    """A page's blocks in reading order (``reading_order``'s cut): ``first`` (page headers) before and ``last``
    (page footers) after the rest, each in its own order, taking no part in the cut; on a page read left to right,
    lines set sideways in the margin after the body; a header band over some of three or more columns before them
    (see the module's docstring)."""
    framed = _framed(boxes, right_to_left, turns)
    head = [i for i in range(len(framed)) if i in first]
    foot = [i for i in range(len(framed)) if i in last and i not in first]
    rest = [i for i in range(len(framed)) if i not in first and i not in last]
    margin = [] if right_to_left else _margin_lines(rest, framed)
    body = [i for i in rest if i not in margin]
    parts = (_order(head, framed, bands=False), _order(body, framed, bands=True), _order(margin, framed, bands=False))
    return [*parts[0], *parts[1], *parts[2], *_order(foot, framed, bands=False)]


def _framed(boxes: Sequence[BBox], right_to_left: bool, turns: int) -> list[BBox]:
    """The boxes as the cut sees them: on the page turned so that its text runs along it, seen in a mirror for a
    page read from the right."""
    out = [_turned(b, turns % 4) for b in boxes] if turns % 4 else list(boxes)
    return [BBox(l=-b.r, t=b.t, r=-b.l, b=b.b) for b in out] if right_to_left else out


def _margin_lines(idx: list[int], boxes: Sequence[BBox]) -> list[int]:
    """Thin, tall boxes that lie wholly left or wholly right of every other box (lines set sideways in a margin);
    none where that would leave nothing else."""
    thin = [i for i in idx if boxes[i].width * MARGIN_LINE_RATIO <= boxes[i].height]
    others = [boxes[i] for i in idx if i not in thin]
    if not thin or not others:
        return []
    left, right = min(b.l for b in others), max(b.r for b in others)
    return [i for i in thin if boxes[i].r <= left or boxes[i].l >= right]


def _turned(b: BBox, k: int) -> BBox:
    """``b`` on the page turned counter-clockwise by ``k`` quarter turns, up to a shift: (x, y) → (y, -x) for one."""
    if k == 1:
        return BBox(l=b.t, t=-b.r, r=b.b, b=-b.l)
    if k == 2:
        return BBox(l=-b.r, t=-b.b, r=-b.l, b=-b.t)
    return BBox(l=-b.b, t=b.l, r=-b.t, b=b.r)


def _order(idx: list[int], boxes: Sequence[BBox], *, bands: bool) -> list[int]:
    if len(idx) <= 1:
        return idx
    gutter = _widest_gap(idx, boxes, vertical=True, min_gap=MIN_GUTTER)
    if gutter is not None:
        top = _band_on_top(_strips(idx, boxes), boxes) if bands else None
        if top is not None:
            band = [i for i in idx if boxes[i].t < top]
            rest = [i for i in idx if boxes[i].t >= top]
            return _order(band, boxes, bands=bands) + _order(rest, boxes, bands=bands)
        left = [i for i in idx if boxes[i].r <= gutter]
        right = [i for i in idx if boxes[i].r > gutter]
        return _order(left, boxes, bands=bands) + _order(right, boxes, bands=bands)
    strips = _strips(idx, boxes)
    if len(strips) == 1:
        return _fallback(idx, boxes)
    out: list[int] = []
    for group in _merge_strips_sharing_gutters(strips, boxes, bands=bands):
        out.extend(_order(group, boxes, bands=bands) if len(group) < len(idx) else _fallback(group, boxes))
    return out


def _band_on_top(strips: list[list[int]], boxes: Sequence[BBox]) -> float | None:
    """Where the header band atop ``strips`` ends (the top of the first strip under it; None: no band): the most
    strips from the top that hold text over two or more of the three or more columns of the strips under them,
    not over all (a header band, not the columns' first lines: the columns' tops are level). Looks no further
    down than the first strips that hold text over every column under them."""
    end: float | None = None
    for k in range(1, len(strips)):
        top, below = [i for s in strips[:k] for i in s], [i for s in strips[k:] for i in s]
        held, columns = _held(top, below, boxes)
        if columns < BAND_MIN_COLUMNS or held == columns:
            break
        if held >= 2:
            end = min(boxes[i].t for i in strips[k])
    return end


def _is_band(top: list[int], below: list[int], boxes: Sequence[BBox]) -> bool:
    held, columns = _held(top, below, boxes)
    return columns >= BAND_MIN_COLUMNS and 2 <= held < columns


def _held(top: list[int], below: list[int], boxes: Sequence[BBox]) -> tuple[int, int]:
    """(how many of the columns of ``below`` the boxes of ``top`` reach over, how many columns there are)."""
    columns = _columns(below, boxes)
    held = sum(1 for lo, hi in columns if any(min(hi, boxes[i].r) > max(lo, boxes[i].l) for i in top))
    return held, len(columns)


def _columns(idx: list[int], boxes: Sequence[BBox]) -> list[tuple[float, float]]:
    """The x-extents of the columns of ``idx``: its boxes' x-intervals joined over gaps narrower than a gutter."""
    out: list[tuple[float, float]] = []
    for lo, hi in _intervals(idx, boxes, vertical=True):
        if out and lo - out[-1][1] < MIN_GUTTER:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _fallback(idx: list[int], boxes: Sequence[BBox]) -> list[int]:
    """Overlapping boxes that no cut separates: top to bottom, then left to right."""
    return sorted(idx, key=lambda i: (boxes[i].t, boxes[i].l))


def _intervals(idx: list[int], boxes: Sequence[BBox], *, vertical: bool) -> list[tuple[float, float]]:
    spans = sorted((boxes[i].l, boxes[i].r) if vertical else (boxes[i].t, boxes[i].b) for i in idx)
    merged: list[tuple[float, float]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _gaps(idx: list[int], boxes: Sequence[BBox], *, vertical: bool, min_gap: float) -> list[tuple[float, float]]:
    iv = _intervals(idx, boxes, vertical=vertical)
    return [(a[1], b[0]) for a, b in itertools.pairwise(iv) if b[0] - a[1] >= min_gap]


def _widest_gap(idx: list[int], boxes: Sequence[BBox], *, vertical: bool, min_gap: float) -> float | None:
    gaps = _gaps(idx, boxes, vertical=vertical, min_gap=min_gap)
    if not gaps:
        return None
    lo, hi = max(gaps, key=lambda g: g[1] - g[0])
    return (lo + hi) / 2.0


def _strips(idx: list[int], boxes: Sequence[BBox]) -> list[list[int]]:
    cuts = [(lo + hi) / 2.0 for lo, hi in _gaps(idx, boxes, vertical=False, min_gap=MIN_ROW_GAP)]
    strips: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    for i in idx:
        k = sum(1 for c in cuts if boxes[i].t >= c)
        strips[k].append(i)
    return [s for s in strips if s]


def _merge_strips_sharing_gutters(strips: list[list[int]], boxes: Sequence[BBox], *, bands: bool) -> list[list[int]]:
    """Neighbouring strips that share a gutter, joined (a header band stays apart from the columns under it)."""
    groups: list[list[int]] = []
    shared: list[tuple[float, float]] = []
    for strip in strips:
        gutters = _gaps(strip, boxes, vertical=True, min_gap=MIN_GUTTER)
        common = _intersect(shared, gutters) if groups else []
        if groups and common and not (bands and _is_band(groups[-1], strip, boxes)):
            groups[-1].extend(strip)
            shared = common
        else:
            groups.append(list(strip))
            shared = gutters
    return groups


def _intersect(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if hi - lo >= MIN_GUTTER:
                out.append((lo, hi))
    return out
