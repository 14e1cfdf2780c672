"""Layout regions before text is merged into them (``pipeline.merge``): duplicates joined, and a text region the
layout model cut out of the middle of another given back to it. Content-space points."""

from __future__ import annotations

from typing import Protocol, TypeVar

from pipeline.geometry import BBox
from pipeline.graph import BlockType
from pipeline.page import TextLine

DUPLICATE_IOU = 0.7
NESTED_SHARE = 0.9  # a text region this much inside another is a piece of it, if that one's text runs round it


class Boxed(Protocol):
    """What is read of a layout region here (``pipeline.merge.Region``)."""

    @property
    def type(self) -> BlockType: ...
    @property
    def bbox(self) -> BBox: ...
    @property
    def score(self) -> float: ...


R = TypeVar("R", bound=Boxed)


def dedupe(regions: list[R]) -> list[tuple[R, list[R]]]:
    """Two regions of any labels on the same spot (IoU ≥ ``DUPLICATE_IOU``) are one, typed by the higher score."""
    kept: list[tuple[R, list[R]]] = []
    for region in sorted(regions, key=lambda r: -r.score):
        match = next((k for k, (r, _) in enumerate(kept) if r.bbox.iou(region.bbox) >= DUPLICATE_IOU), None)
        if match is None:
            kept.append((region, []))
        else:
            kept[match][1].append(region)
    return kept


def rejoin_pieces(
    regions: list[tuple[R, list[R]]], lines: list[list[TextLine]]
) -> tuple[list[tuple[R, list[R]]], list[list[TextLine]]]:
    """A text region (nearly) inside another text region whose own lines run on both above and below it is a piece
    the layout model cut out of that paragraph (its lines go to the smaller region): its lines go back into the
    paragraph, in their place, and the piece is kept as the paragraph's provenance. Otherwise the paragraph's text
    would read past the piece and the piece after it. ``lines``: each region's lines, as assigned."""
    into: dict[int, int] = {}
    for j, (piece, _) in enumerate(regions):
        for i, (whole, _) in enumerate(regions):
            if i == j or i in into or piece.type is not BlockType.TEXT or whole.type is not BlockType.TEXT:
                continue
            box = piece.bbox
            if box.intersection(whole.bbox) < NESTED_SHARE * box.area or whole.bbox.area <= box.area:
                continue
            centres = [(ln.bbox.t + ln.bbox.b) / 2 for ln in lines[i]]
            if lines[j] and any(c < box.t for c in centres) and any(c > box.b for c in centres):
                into[j] = i
                break
    if not into:
        return regions, lines
    out_regions = [(r, list(others)) for r, others in regions]
    out_lines = [list(ls) for ls in lines]
    for j, i in into.items():
        out_regions[i][1].extend([regions[j][0], *regions[j][1]])
        out_lines[i].extend(lines[j])
    keep = [k for k in range(len(regions)) if k not in into]
    return [out_regions[k] for k in keep], [out_lines[k] for k in keep]
