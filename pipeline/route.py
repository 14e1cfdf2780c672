"""Per-page classification (digital / scanned / mixed / empty) and the plan a page follows.

Routing: digital pages read the text layer and need no OCR unless asked (then OCR only adds evidence);
scanned and mixed pages go to OCR, whose text becomes the page's text; the layout model types regions on every
non-empty page unless turned off, and on a digital page the picture regions it finds without text-layer text are
OCRed as regions (text in pictures; not with ``ocr=never``); without the layout model, only drawn images over a
large share of the page are. Only a page whose plan needs a model is rendered.
The plan is decided once, here; the converter follows it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pipeline.graph import PageKind, Source
from pipeline.options import ConvertOptions, Limits, OcrMode
from pipeline.page import PageGeometry, TextLayer
from pipeline.pictures import large_pictures
from pipeline.vertical import unspaced

MIN_TEXT_CHARS = 10  # fewer visible characters than this: the page has no usable text layer
SCAN_IMAGE_COVERAGE = 0.5  # images cover at least half of the page: a scan
SCAN_HIDDEN_TEXT = 0.5  # most of its text is hidden (invisible, or under the scan image): an earlier OCR's layer
GARBLED_TEXT = 0.3  # this share of replacement/private-use characters: the text layer is unusable
EMPTY_COVERAGE = 0.01  # less ink than this (images + paths) on a page without text: an empty page
OUTLINED_TEXT = 0.1  # paths covering this share of a page with a few characters: perhaps text drawn as outlines


def classify_page(layer: TextLayer) -> PageKind:
    if layer.chars < MIN_TEXT_CHARS:
        if layer.image_coverage + layer.vector_coverage < EMPTY_COVERAGE:
            return PageKind.EMPTY
        if layer.chars > 0 and layer.image_coverage < EMPTY_COVERAGE and layer.vector_coverage < OUTLINED_TEXT:
            # a few words and little else: not a scan (eight characters of Japanese are a line); a page drawn
            # mostly in paths beside them may be outlined text, which OCR reads
            return PageKind.DIGITAL
        return PageKind.SCANNED
    return PageKind.MIXED if untrusted_text_layer(layer) else PageKind.DIGITAL


def untrusted_text_layer(layer: TextLayer) -> str | None:
    """Why a page's text layer is not to be taken as its text (the page is ``mixed``: OCR reads it), or None."""
    if layer.chars < MIN_TEXT_CHARS:
        return None  # no text layer to trust: a plain scan
    if layer.garbled_ratio >= GARBLED_TEXT:
        return (
            f"its text layer is garbled: {layer.garbled_ratio:.0%} of its characters are U+FFFD or private-use "
            "(glyphs its fonts do not map to text)"
        )
    if layer.image_coverage >= SCAN_IMAGE_COVERAGE:
        if layer.invisible_text_ratio >= SCAN_HIDDEN_TEXT:
            return (
                f"its text layer is invisible text laid over a scan ({layer.invisible_text_ratio:.0%} of its text "
                "area): an earlier OCR, not trusted"
            )
        hidden = layer.invisible_text_ratio + layer.covered_text_ratio
        if hidden >= SCAN_HIDDEN_TEXT:
            how = "is invisible or lies" if layer.invisible_text_ratio > 0 else "lies"
            return (
                f"its text layer {how} hidden under the scan image drawn over it ({hidden:.0%} of its text area): "
                "an earlier OCR, not trusted"
            )
    return None


@dataclass(frozen=True, slots=True)
class PagePlan:
    """What one page goes through, and whose text it keeps.

    ``text_source`` is ``Source.OCR`` on a scanned or mixed page that gets OCR: the OCR text is the page's text,
    and the scan image it was read from is not a figure (smaller images placed on the page are). Otherwise it is
    ``Source.TEXT_LAYER``, and OCR, where it runs (``ocr=always`` on a digital page), only adds evidence. A page
    planned for OCR text whose OCR fails falls back to its text layer. ``text_layer_usable`` is False on scanned
    and mixed pages: without the rendered image nothing of them converts, so a failed render fails the page.
    """

    layout: bool
    ocr: bool
    text_source: Source
    text_layer_usable: bool
    pictures: bool = False  # a digital page's picture regions without text get OCR (pipeline/pictures.py)
    orient: bool = False  # a scan read by OCR is turned upright first (the orientation classifier)
    # quarter turns (counter-clockwise) that make the text of a page read from its text layer run along the page,
    # where it runs sideways in content space (a landscape page stored with /Rotate, a page printed sideways): its
    # reading order is cut on the page so turned, and the layout model reads it so turned (a layout-sized render)
    turns: int = 0

    @property
    def needs_image(self) -> bool:
        return self.layout or self.ocr or self.pictures

    @property
    def layout_sized(self) -> bool:
        """The page's image is rendered at the layout model's size (``limits.layout_max_side``): no OCR reads it
        (text in pictures, if any, is rendered again at dpi)."""
        return self.layout and not self.ocr


def plan_page(
    kind: PageKind,
    options: ConvertOptions,
    *,
    has_layout: bool,
    has_ocr: bool,
    has_orientation: bool = False,
    large_pictures: bool = False,
) -> PagePlan:
    """``large_pictures``: the page draws an image over a large share of it with no text over it, which is read
    even without the layout model (``layout=false``). ``has_orientation``: the orientation classifier is there
    (it turns scans that OCR reads upright)."""
    if kind is PageKind.EMPTY:
        return PagePlan(layout=False, ocr=False, text_source=Source.TEXT_LAYER, text_layer_usable=True)
    scan = kind in (PageKind.SCANNED, PageKind.MIXED)
    ocr = has_ocr and (options.ocr is OcrMode.ALWAYS or (options.ocr is OcrMode.AUTO and scan))
    layout = has_layout and options.layout
    return PagePlan(
        layout=layout,
        ocr=ocr,
        text_source=Source.OCR if ocr and scan else Source.TEXT_LAYER,
        text_layer_usable=not scan,
        pictures=has_ocr and (layout or large_pictures) and not scan and options.ocr is not OcrMode.NEVER,
        orient=has_orientation and ocr and kind is PageKind.SCANNED,
    )


def plan_for(
    kind: PageKind,
    layer: TextLayer,
    geometry: PageGeometry,
    options: ConvertOptions,
    limits: Limits,
    *,
    has_layout: bool,
    has_ocr: bool,
    has_orientation: bool,
) -> PagePlan:
    """The plan of a page read as ``layer``; without the layout model, whether a drawn image over a large share of
    it asks for a render to read the picture."""
    area = geometry.width * geometry.height
    large = not options.layout and large_pictures(layer, area, limits.pictures)
    plan = plan_page(
        kind,
        options,
        has_layout=has_layout,
        has_ocr=has_ocr,
        has_orientation=has_orientation,
        large_pictures=large,
    )
    return replace(plan, turns=sideways_turns(layer)) if plan.text_source is Source.TEXT_LAYER else plan


def sideways_turns(layer: TextLayer) -> int:
    """Quarter turns (counter-clockwise) that make most of the page's text (by characters) run along the page: 1
    where it runs down the page, 3 where it runs up, 0 where it runs along it already (Chinese and Japanese set in
    columns are upright as they are)."""
    along = down = up = 0
    for line in layer.lines:
        chars = len(line.text)
        if line.vertical == 0 or unspaced(line.text):
            along += chars
        elif line.vertical > 0:
            down += chars
        else:
            up += chars
    if max(down, up) <= along:
        return 0
    return 1 if down > up else 3
