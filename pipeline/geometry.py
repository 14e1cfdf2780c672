"""``BBox``: the one box type, origin top-left, of model results, of every pipeline step and of the graph.

Its unit and space depend on where it is (``pipeline.page`` describes the spaces): model results are in pixels
of the rendered page image (DeepSeek-OCR's 0-999 grid is turned into pixels in ``models.grounding``);
``PageImage.box_to_points`` turns them into PDF points of the page's content space (the unrotated page, as
PyMuPDF reports text and renders pages for the models), where the text layer, merge and reading order work;
``pipeline.build`` maps every box once to display space (the page as shown, after ``/Rotate``), which is what
every box in the graph is in.
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

    l: float = Field(description="Left edge.")  # noqa: E741 - the schema's name (l, t, r, b as in docling)
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

    @classmethod
    def clipped(cls, rect: tuple[float, float, float, float] | list[float], width: float, height: float) -> BBox:
        """``BBox.of(rect).clip(width, height)``, made once."""
        x0, y0, x1, y1 = (float(v) for v in rect)
        return cls(
            l=min(max(min(x0, x1), 0.0), width),
            t=min(max(min(y0, y1), 0.0), height),
            r=min(max(x0, x1, 0.0), width),
            b=min(max(y0, y1, 0.0), height),
        )

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

    def holds_centre_of(self, other: BBox) -> bool:
        """``other``'s centre lies in this box (edges included)."""
        x, y = (other.l + other.r) / 2, (other.t + other.b) / 2
        return self.l <= x <= self.r and self.t <= y <= self.b

    def shifted(self, dx: float, dy: float) -> BBox:
        return BBox(l=self.l + dx, t=self.t + dy, r=self.r + dx, b=self.b + dy)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.l, self.t, self.r, self.b)


def union_all(boxes: list[BBox]) -> BBox:
    """Smallest box holding every box (``boxes`` must not be empty)."""
    out = boxes[0]
    for box in boxes[1:]:
        out = out.union(box)
    return out
