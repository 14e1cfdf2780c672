"""In-process values describing one page: its geometry, text layer and rendered image.

Two coordinate spaces exist, both in PDF points with the origin top-left, and only ``PageGeometry`` converts
between them:
- *content space*: the unrotated page (what PyMuPDF's text extraction reports; text in /Rotate'd pages is
  upright here). All processing runs here: pages are rendered in it for the models (whose pixel boxes
  ``PageImage.box_to_points`` turns into content-space points), and merge and reading order work in it.
- *display space*: the page as a viewer shows it (after /Rotate). Every bbox in the graph is in display space.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from pipeline.geometry import BBox


def quarter_turn(k: int, w: float, h: float) -> tuple[float, float, float, float, float, float]:
    """(p, q, r, t, s, u): a point (x', y') of a ``w`` × ``h`` space turned counter-clockwise by ``k`` × 90° (as
    ``np.rot90`` turns an image) is (x, y) = (p x' + r y' + s, q x' + t y' + u) of that space (``k``: 1, 2, 3)."""
    return {1: (0, 1, -1, 0, w, 0), 2: (-1, 0, 0, -1, w, h), 3: (0, -1, 1, 0, 0, h)}[k]


def turned_box(box: BBox, k: int, w: float, h: float) -> BBox:
    """``box`` of a ``w`` × ``h`` space, in that space turned counter-clockwise by ``k`` quarter turns (as
    ``np.rot90`` turns an image); ``turned_box(b, 4 - k, ...)`` of the turned space's size turns it back."""
    k %= 4
    if k == 0:
        return box
    # quarter_turn maps a turned space back to the one it was turned from: the inverse turn of the turned space
    w2, h2 = (h, w) if k % 2 else (w, h)  # the turned space's size
    p, q, r, t, s, u = quarter_turn(4 - k, w2, h2)
    xs = [p * x + r * y + s for x in (box.l, box.r) for y in (box.t, box.b)]
    ys = [q * x + t * y + u for x in (box.l, box.r) for y in (box.t, box.b)]
    return BBox(l=min(xs), t=min(ys), r=max(xs), b=max(ys))


@dataclass(frozen=True, slots=True)
class PageGeometry:
    page_no: int  # 1-based
    width: float  # content space, points
    height: float
    rotation: int  # /Rotate in degrees: 0, 90, 180, 270
    display_width: float  # display space, points
    display_height: float
    to_display: tuple[float, float, float, float, float, float]  # affine matrix content → display

    def bbox_to_display(self, box: BBox) -> BBox:
        """``box`` (content space) in display space, clipped to the page. Called for every word of the graph: the
        quarter-turn matrices a page's ``/Rotate`` gives (the only ones PyMuPDF makes) take two corners, not four,
        and the box is built once (the clip inlined)."""
        a, b, c, d, e, f = self.to_display
        if b == 0 and c == 0:  # /Rotate 0 or 180: x from x, y from y
            x0, x1, y0, y1 = a * box.l + e, a * box.r + e, d * box.t + f, d * box.b + f
        elif a == 0 and d == 0:  # /Rotate 90 or 270: x from y, y from x
            x0, x1, y0, y1 = c * box.t + e, c * box.b + e, b * box.l + f, b * box.r + f
        else:
            xs = [a * x + c * y + e for x in (box.l, box.r) for y in (box.t, box.b)]
            ys = [b * x + d * y + f for x in (box.l, box.r) for y in (box.t, box.b)]
            x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        w, h = self.display_width, self.display_height
        if x0 > x1:
            x0, x1 = x1, x0
        if y0 > y1:
            y0, y1 = y1, y0
        return BBox(l=min(max(x0, 0.0), w), t=min(max(y0, 0.0), h), r=min(max(x1, 0.0), w), b=min(max(y1, 0.0), h))

    def upright(self, quarter_turns: int) -> PageGeometry:
        """The geometry of this page's content space turned counter-clockwise by ``quarter_turns`` × 90° (what a
        scan whose content lies sideways becomes once its image is turned upright: ``PageImage.rotated``); its
        ``to_display`` maps the turned space to the same display space."""
        k = quarter_turns % 4
        if k == 0:
            return self
        w, h = self.width, self.height
        p, q, r, t, s, u = quarter_turn(k, w, h)
        a, b, c, d, e, f = self.to_display
        composed = (a * p + c * q, b * p + d * q, a * r + c * t, b * r + d * t, a * s + c * u + e, b * s + d * u + f)
        return PageGeometry(
            page_no=self.page_no,
            width=h if k % 2 else w,
            height=w if k % 2 else h,
            rotation=self.rotation,
            display_width=self.display_width,
            display_height=self.display_height,
            to_display=composed,
        )


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line of the text layer or of OCR output, in content space."""

    bbox: BBox
    text: str
    size: float = 0.0  # font size in points (0 when unknown, e.g. OCR)
    confidence: float = 1.0
    # written top to bottom (1: vertical CJK, columns read right to left) or bottom to top (-1: text turned a
    # quarter left, lines read left to right); 0: along the page
    vertical: int = 0


@dataclass(frozen=True, slots=True)
class TextBlock:
    """A PyMuPDF text block (a paragraph-like group of lines) or an image placement."""

    bbox: BBox
    lines: tuple[TextLine, ...]
    is_image: bool = False

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass(frozen=True, slots=True)
class TextLayer:
    blocks: tuple[TextBlock, ...]
    chars: int  # non-whitespace characters
    invisible_text_ratio: float  # share of text area drawn invisibly (an OCR layer over a scan)
    image_coverage: float  # share of the page covered by images
    vector_coverage: float  # share of the page covered by paths (vector-drawn content)
    garbled_ratio: float  # share of characters that are U+FFFD or private-use (a broken text layer)
    warnings: tuple[str, ...] = ()  # what was not analysed (a page over the primitive cap)
    covered_text_ratio: float = 0.0  # share of text area drawn visibly, then painted over by an image (a scan on top)

    @property
    def lines(self) -> list[TextLine]:
        """Every line of its text blocks, block by block."""
        return [line for block in self.blocks for line in block.lines]


@dataclass(frozen=True, slots=True)
class PageImage:
    """A page rendered in content space: ``pixels`` is H×W×3 uint8 RGB; ``turns``: the pixels are that render turned
    counter-clockwise by ``turns`` × 90° (``turned``: a page whose text runs sideways in content space, given to
    the layout model with its text upright), which ``box_to_points`` undoes."""

    page_no: int
    pixels: npt.NDArray[np.uint8] = field(repr=False)
    scale_x: float  # pixels per point (of the turned render where ``turns``)
    scale_y: float
    turns: int = 0

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def box_to_points(self, box: BBox) -> BBox:
        """Pixels of this image → content-space points."""
        points = box.scale(1.0 / self.scale_x, 1.0 / self.scale_y)
        k = self.turns % 4
        if k == 0:
            return points
        return turned_box(points, 4 - k, self.width / self.scale_x, self.height / self.scale_y)

    def turned(self, quarter_turns: int) -> PageImage:
        """This image turned counter-clockwise by ``quarter_turns`` × 90°, its boxes still mapped to the same content
        space (``box_to_points``); only for a model's view of the page (``crop`` reads unturned images)."""
        return self._rot90(quarter_turns, same_space=True)

    def rotated(self, quarter_turns: int) -> PageImage:
        """This image turned counter-clockwise by ``quarter_turns`` × 90° (``np.rot90``) as a new content space (a
        scan turned upright: ``PageGeometry.upright``)."""
        return self._rot90(quarter_turns, same_space=False)

    def _rot90(self, quarter_turns: int, *, same_space: bool) -> PageImage:
        k = quarter_turns % 4
        if k == 0:
            return self
        odd = k % 2 == 1
        return PageImage(
            page_no=self.page_no,
            pixels=np.ascontiguousarray(np.rot90(self.pixels, k)),
            scale_x=self.scale_y if odd else self.scale_x,
            scale_y=self.scale_x if odd else self.scale_y,
            turns=(self.turns + k) % 4 if same_space else self.turns,
        )

    def crop(self, box: BBox, margin: float = 0.0) -> tuple[PageImage, float, float]:
        """The part of this image under ``box`` (content-space points, widened by ``margin`` points, clipped to the
        image), and where that part's top-left corner is, in points: a box in the crop's pixels is
        ``crop.box_to_points(b)`` shifted by that corner."""
        if self.turns:
            raise ValueError("a turned image is a model's view of the page: crop the page's own render")
        x0 = max(0, int((box.l - margin) * self.scale_x))
        y0 = max(0, int((box.t - margin) * self.scale_y))
        x1 = min(self.width, max(x0 + 1, round((box.r + margin) * self.scale_x)))
        y1 = min(self.height, max(y0 + 1, round((box.b + margin) * self.scale_y)))
        part = PageImage(
            page_no=self.page_no,
            pixels=np.ascontiguousarray(self.pixels[y0:y1, x0:x1]),
            scale_x=self.scale_x,
            scale_y=self.scale_y,
        )
        return part, x0 / self.scale_x, y0 / self.scale_y

    def within(self, max_pixels: int) -> PageImage:
        """This image scaled down (area-averaged) to at most ``max_pixels`` pixels in all; itself if it fits."""
        if self.width * self.height <= max_pixels:
            return self
        factor = (max_pixels / (self.width * self.height)) ** 0.5
        return self._resized(max(1, int(self.width * factor)), max(1, int(self.height * factor)))

    def fitted(self, max_side: int) -> PageImage:
        """This image scaled down (area-averaged) so that neither side exceeds ``max_side``; itself if it fits."""
        longest = max(self.width, self.height)
        if longest <= max_side:
            return self
        factor = max_side / longest
        return self._resized(max(1, round(self.width * factor)), max(1, round(self.height * factor)))

    def _resized(self, width: int, height: int) -> PageImage:
        import cv2  # OpenCV only where an image is resized

        size = (width, height)
        pixels = cv2.resize(self.pixels, size, interpolation=cv2.INTER_AREA)
        return PageImage(
            page_no=self.page_no,
            pixels=np.ascontiguousarray(pixels, dtype=np.uint8),
            scale_x=self.scale_x * size[0] / self.width,
            scale_y=self.scale_y * size[1] / self.height,
            turns=self.turns,
        )
