"""Boxes and coordinate conversions.

Every box in the graph is in PDF points with the origin at the page's top-left corner, on the page as
displayed (after ``/Rotate``), which is also how PyMuPDF reports text and how rendered images are laid out.
Model outputs arrive in image pixels (or on DeepSeek-OCR's 0-999 grid) and are converted here, once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CoordOrigin(StrEnum):
    TOP_LEFT = "top_left"


class BBox(BaseModel):
    """Axis-aligned box: left, top, right, bottom."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    l: float = Field(description="Left edge.")
    t: float = Field(description="Top edge.")
    r: float = Field(description="Right edge.")
    b: float = Field(description="Bottom edge.")
    origin: Literal[CoordOrigin.TOP_LEFT] = Field(
        default=CoordOrigin.TOP_LEFT, description="Coordinate origin: always the page's top-left corner."
    )

    @classmethod
    def of(cls, rect: tuple[float, float, float, float] | list[float]) -> BBox:
        x0, y0, x1, y1 = (float(v) for v in rect)
        return cls(l=min(x0, x1), t=min(y0, y1), r=max(x0, x1), b=max(y0, y1))

    @property
    def width(self) -> float:
        return max(0.0, self.r - self.l)

    @property
    def height(self) -> float:
        return max(0.0, self.b - self.t)

    @property
    def area(self) -> float:
        return self.width * self.height

    def intersection(self, other: BBox) -> float:
        w = min(self.r, other.r) - max(self.l, other.l)
        h = min(self.b, other.b) - max(self.t, other.t)
        return w * h if w > 0 and h > 0 else 0.0

    def iou(self, other: BBox) -> float:
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def union(self, other: BBox) -> BBox:
        return BBox(l=min(self.l, other.l), t=min(self.t, other.t), r=max(self.r, other.r), b=max(self.b, other.b))

    def clip(self, width: float, height: float) -> BBox:
        return BBox(
            l=min(max(self.l, 0.0), width),
            t=min(max(self.t, 0.0), height),
            r=min(max(self.r, 0.0), width),
            b=min(max(self.b, 0.0), height),
        )

    def scale(self, sx: float, sy: float) -> BBox:
        return BBox(l=self.l * sx, t=self.t * sy, r=self.r * sx, b=self.b * sy)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.l, self.t, self.r, self.b)


def union_all(boxes: list[BBox]) -> BBox:
    """Smallest box holding every box (``boxes`` must not be empty)."""
    out = boxes[0]
    for box in boxes[1:]:
        out = out.union(box)
    return out


def pixels_to_points(box: BBox, *, dpi: float) -> BBox:
    """A box in pixels of an image rendered at ``dpi`` → PDF points (72 per inch)."""
    f = 72.0 / dpi
    return box.scale(f, f)


def grid_to_points(box: BBox, *, page_width: float, page_height: float, grid: float = 999.0) -> BBox:
    """A box on a ``0..grid`` normalised grid of the page image → PDF points."""
    return box.scale(page_width / grid, page_height / grid).clip(page_width, page_height)
