"""Per-page classification (digital / scanned / mixed / empty) and the route a page takes.

Routing (ADR-0010 of the seeds): digital pages read the text layer and need no OCR unless asked;
scanned and mixed pages go to OCR; the layout model types regions on every page unless turned off.
Only a page whose route needs a model is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.graph import PageKind
from pipeline.options import ConvertOptions, OcrMode
from pipeline.page import TextLayer

MIN_TEXT_CHARS = 10  # fewer visible characters than this: the page has no usable text layer
SCAN_IMAGE_COVERAGE = 0.5  # images cover at least half of the page: a scan
SCAN_INVISIBLE_TEXT = 0.5  # most of its text is invisible: an OCR layer laid over a scan
GARBLED_TEXT = 0.3  # this share of replacement/private-use characters: the text layer is unusable
EMPTY_COVERAGE = 0.01  # less ink than this (images + paths) on a page without text: an empty page


def classify_page(layer: TextLayer) -> PageKind:
    if layer.chars < MIN_TEXT_CHARS:
        if layer.image_coverage + layer.vector_coverage < EMPTY_COVERAGE:
            return PageKind.EMPTY
        return PageKind.SCANNED
    if layer.garbled_ratio >= GARBLED_TEXT:
        return PageKind.MIXED
    if layer.image_coverage >= SCAN_IMAGE_COVERAGE and layer.invisible_text_ratio >= SCAN_INVISIBLE_TEXT:
        return PageKind.MIXED
    return PageKind.DIGITAL


@dataclass(frozen=True, slots=True)
class PagePlan:
    layout: bool
    ocr: bool

    @property
    def needs_image(self) -> bool:
        return self.layout or self.ocr


def plan_page(kind: PageKind, options: ConvertOptions, *, has_layout: bool, has_ocr: bool) -> PagePlan:
    if kind is PageKind.EMPTY:
        return PagePlan(layout=False, ocr=False)
    ocr = has_ocr and (
        options.ocr is OcrMode.ALWAYS or (options.ocr is OcrMode.AUTO and kind in (PageKind.SCANNED, PageKind.MIXED))
    )
    return PagePlan(layout=has_layout and options.layout, ocr=ocr)
