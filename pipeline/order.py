"""Reading order by recursive XY-cut, made safe for multi-column pages.

Plain XY-cut takes the widest gap first and so cuts a two-column page horizontally wherever both columns
happen to have a paragraph break at the same height (reading L1 R1 L2 R2). Here a node is cut vertically
whenever a gutter runs through all of it; otherwise it is sliced into horizontal strips, and neighbouring
strips that share a gutter are merged back before recursing, so each column is read top to bottom before
the next, while full-width elements (titles, wide figures) still separate column sections.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from pipeline.geometry import BBox

MIN_GUTTER = 6.0  # points: narrower vertical gaps are word spacing, not columns
MIN_ROW_GAP = 0.5  # points: horizontal gaps between rows


def reading_order(boxes: Sequence[BBox], *, right_to_left: bool = False, turns: int = 0) -> list[int]:
    """Indices of ``boxes`` in reading order: columns left to right, each top to bottom; with ``right_to_left``
    (Arabic, Hebrew, vertical Japanese) columns from the right, the same cut on the page seen in a mirror. ``turns``:
    quarter turns (counter-clockwise) that make the page's text run along it (a page whose text runs sideways):
    the cut is made on the page so turned (the order does not depend on where the origin is)."""
    boxes = [_turned(b, turns % 4) for b in boxes] if turns % 4 else boxes
    if right_to_left:
        boxes = [BBox(l=-b.r, t=b.t, r=-b.l, b=b.b) for b in boxes]
    return _order(list(range(len(boxes))), boxes)


def _turned(b: BBox, k: int) -> BBox:
    """``b`` on the page turned counter-clockwise by ``k`` quarter turns, up to a shift: (x, y) → (y, -x) for one."""
    if k == 1:
        return BBox(l=b.t, t=-b.r, r=b.b, b=-b.l)
    if k == 2:
        return BBox(l=-b.r, t=-b.b, r=-b.l, b=-b.t)
    return BBox(l=-b.b, t=b.l, r=-b.t, b=b.r)


def _order(idx: list[int], boxes: Sequence[BBox]) -> list[int]:
    if len(idx) <= 1:
        return idx
    gutter = _widest_gap(idx, boxes, vertical=True, min_gap=MIN_GUTTER)
    if gutter is not None:
        left = [i for i in idx if boxes[i].r <= gutter]
        right = [i for i in idx if boxes[i].r > gutter]
        return _order(left, boxes) + _order(right, boxes)
    strips = _strips(idx, boxes)
    if len(strips) == 1:
        return _fallback(idx, boxes)
    out: list[int] = []
    for group in _merge_strips_sharing_gutters(strips, boxes):
        out.extend(_order(group, boxes) if len(group) < len(idx) else _fallback(group, boxes))
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


def _merge_strips_sharing_gutters(strips: list[list[int]], boxes: Sequence[BBox]) -> list[list[int]]:
    groups: list[list[int]] = []
    shared: list[tuple[float, float]] = []
    for strip in strips:
        gutters = _gaps(strip, boxes, vertical=True, min_gap=MIN_GUTTER)
        common = _intersect(shared, gutters) if groups else []
        if groups and common:
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
