"""PyMuPDF intake: validate and open an upload, then read or render one page at a time.

``open_document`` checks what can be checked before any page is touched (bytes, magic, encryption, page
count, repairs) and raises the ``InvalidDocumentError`` family. ``PdfDocument`` then gives lazy per-page
access: a page is rendered only when a model needs it and the image is not kept, so memory does not grow with
page count. PyMuPDF is not thread-safe: this module runs inside the PyMuPDF worker processes of
``pipeline.pdfpool.PdfPool``, one call at a time each. PDF JavaScript is never run: MuPDF only runs it after
``pdf_enable_js``, which nothing here calls, and widgets/annotations are never updated or executed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np
import pymupdf

from pipeline.errors import (
    CorruptDocumentError,
    DocumentTooLargeError,
    EmptyDocumentError,
    NotAPdfError,
    PageError,
    PageRenderError,
    PasswordRequiredError,
    UnusableDocumentError,
)
from pipeline.geometry import BBox
from pipeline.images import image_format, image_pdf
from pipeline.options import Limits
from pipeline.page import PageGeometry, PageImage, TextLayer, TextLine
from pipeline.rtl import normalise_forms
from pipeline.ruledtables import RuledTables, find_ruled_tables
from pipeline.tablegrid import TableGrid
from pipeline.tables import find_tables
from pipeline.textlayer import TEXT_FLAGS, extract_text_layer

# what MuPDF raises on a bad page (its FzError* classes derive from Exception, not RuntimeError)
MUPDF_ERRORS: tuple[type[Exception], ...] = (RuntimeError, pymupdf.mupdf.FzErrorBase)
RENDER_ERRORS: tuple[type[Exception], ...] = (*MUPDF_ERRORS, ValueError, MemoryError)

PDF_MAGIC = b"%PDF-"
MAGIC_WINDOW = 1024  # the header may follow up to 1 KiB of junk (PDF 32000-1 §7.5.2, implementation note)

pymupdf.TOOLS.mupdf_display_errors(False)  # MuPDF's messages stay off stderr (in TOOLS.mupdf_warnings(), unread)


def render_zoom(geo: PageGeometry, dpi: int, limits: Limits) -> float:
    """The zoom a page renders at: ``dpi``, lowered to fit ``limits.max_page_pixels`` (a 1 % margin: sizes
    round up)."""
    zoom = dpi / 72.0
    if geo.width * geo.height * zoom * zoom > limits.max_page_pixels:
        zoom = 0.99 * (limits.max_page_pixels / (geo.width * geo.height)) ** 0.5
    return zoom


def fit_zoom(geo: PageGeometry, zoom: float, max_side: int | None) -> float:
    """``zoom``, lowered so that the image's longer side is at most ``max_side`` pixels (None: as it is)."""
    if max_side is None:
        return zoom
    return min(zoom, max_side / max(geo.width, geo.height, 1e-6))


def scaled_pixmap(pix: pymupdf.Pixmap, width: int, height: int) -> pymupdf.Pixmap:
    """``pix`` scaled to ``width`` × ``height`` by MuPDF's filter: what ``pymupdf.Pixmap(pix, width, height, None)``
    makes, without its leak. PyMuPDF 2.0's binding of ``fz_scale_pixmap`` hands the new pixmap back holding two
    references, so it is never freed: +2.3 MB for every page rendered for the layout model (a PyMuPDF worker grew
    by ~1 GB every 450 pages until its RSS bound replaced it; tests/pipeline/test_layout_render.py). The low-level
    call returns one reference, which the wrapper owns."""
    src = pix.this
    raw = pymupdf.mupdf.ll_fz_scale_pixmap(src.m_internal, src.x(), src.y(), width, height, None)
    return pymupdf.Pixmap("raw", pymupdf.mupdf.FzPixmap(raw))


# A page the layout model alone reads is drawn at twice its size, smoothed and halved (where that draw fits the
# render budget, limits.max_page_pixels): not drawn at its size (the model reads a page drawn small differently,
# thinner and lighter strokes: headings missed on normal_4pages), no longer drawn at dpi and scaled by MuPDF's
# filter (7 ms an A4 page, a third of a PyMuPDF worker's time on the full route; this costs 3 ms and the larger
# draw ~0.5 ms; bench/layout_render.py).
# MuPDF's downscale filter (draw-scale-simple.c) weighs a source pixel x output pixels from the output pixel's centre
# by 1 - 3x² + 2x³ (|x| < 1). On a grid twice as fine the taps sit at ±¼ and ±¾: weights 0.84 and 0.16, which
# are a 2×2 mean after a three-tap blur [0.156, 0.688, 0.156]: a Gaussian of sigma 0.58. The layout model's regions
# on 155 corpus pages (bench/layout_render.py): 95.1 % of 1,953 the same (class, IoU ≥ 0.9) as with MuPDF's scale,
# as many as Pillow's bilinear filter of the same dpi render gives (95.2 %: the model's own jitter under a change
# of resampling); a plain 2×2 mean (sharper) 83.7 %.
HALVING_SIGMA = 0.58


def _drawn_rgb(page: pymupdf.Page, zoom: float) -> pymupdf.Pixmap:
    """The page as displayed (after /Rotate, in content space) drawn at ``zoom``, RGB without alpha."""
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom).prerotate(-page.rotation), alpha=False)
    return pix if pix.n == 3 else pymupdf.Pixmap(pymupdf.csRGB, pix)


def _drawn_twice_halved(page: pymupdf.Page, zoom: float) -> np.ndarray:
    """The page drawn at ``zoom``, smoothed as MuPDF's downscale filter would and halved (OpenCV's bilinear filter
    at exactly half the size is the mean of each 2×2 block). An odd last row or column is dropped (half a pixel of
    the page's edge at the model's size)."""
    pix = _drawn_rgb(page, zoom)
    big = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.height, pix.width, 3)
    height, width = max(pix.height // 2, 1), max(pix.width // 2, 1)
    if pix.height < 2 or pix.width < 2:  # a sliver of a page (one pixel across): averaged along its length
        return cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)
    smooth = cv2.GaussianBlur(big[: 2 * height, : 2 * width], (3, 3), HALVING_SIGMA)
    return cv2.resize(smooth, (width, height), interpolation=cv2.INTER_LINEAR)


def render_bytes(geo: PageGeometry, dpi: int, limits: Limits, max_side: int | None = None) -> int:
    """Bytes of the RGB image ``render`` makes of the page (what the render budget reserves)."""
    zoom = fit_zoom(geo, render_zoom(geo, dpi, limits), max_side)
    return 3 * (int(geo.width * zoom) + 2) * (int(geo.height * zoom) + 2)  # MuPDF's and the scale's rounding


def check_upload(data: bytes, limits: Limits) -> None:
    """Cheap checks on raw bytes: empty, too large, neither a PDF nor an image docgraph reads."""
    if len(data) == 0:
        raise EmptyDocumentError("the upload is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise DocumentTooLargeError(
            f"the upload has {len(data)} bytes; the limit is {limits.max_bytes}",
            size=len(data),
            limit=limits.max_bytes,
        )
    if PDF_MAGIC not in data[:MAGIC_WINDOW] and image_format(data) is None:
        raise NotAPdfError(
            "the upload is neither a PDF (no '%PDF-' header in its first 1024 bytes) nor a PNG, JPEG, TIFF or WebP "
            "image"
        )


@dataclass(frozen=True, slots=True)
class DocumentMeta:
    fingerprint: str
    page_count: int
    title: str | None
    repaired: bool
    encrypted: bool
    warnings: tuple[str, ...]


class PdfDocument:
    """An opened, validated PDF. Not thread-safe: use from one thread only."""

    def __init__(self, doc: pymupdf.Document, meta: DocumentMeta, limits: Limits) -> None:
        self._doc = doc
        self.meta = meta
        self.limits = limits

    @property
    def page_count(self) -> int:
        return self.meta.page_count

    def close(self) -> None:
        self._doc.close()

    def geometry(self, page_no: int) -> PageGeometry:
        page = self._page(page_no)
        content = page.rect * page.derotation_matrix
        m = page.rotation_matrix
        return PageGeometry(
            page_no=page_no,
            width=abs(content.width),
            height=abs(content.height),
            rotation=page.rotation,
            display_width=page.rect.width,
            display_height=page.rect.height,
            to_display=(m.a, m.b, m.c, m.d, m.e, m.f),
        )

    def read_page(self, page_no: int) -> tuple[PageGeometry, TextLayer]:
        return self.geometry(page_no), self.text_layer(page_no)

    def text_layer(self, page_no: int) -> TextLayer:
        return extract_text_layer(self._page(page_no), max_primitives=self.limits.max_page_primitives)

    def words(self, page_no: int) -> list[TextLine]:
        """The page's words with their boxes (content space), in the text layer's order; at most
        ``limits.max_page_primitives`` of them."""
        page = self._page(page_no)
        words = page.get_text("words", flags=TEXT_FLAGS)[: self.limits.max_page_primitives]
        return [TextLine(bbox=BBox.of(tuple(w[:4])), text=normalise_forms(str(w[4]))) for w in words]

    def tables(self, page_no: int, clips: list[BBox]) -> list[TableGrid | None]:
        """The table structure inside each clip (content space), or ``None`` where PyMuPDF finds none."""
        return find_tables(self._page(page_no), clips)

    def ruled_tables(self, page_no: int, turns: int = 0) -> RuledTables:
        """Every ruled table of the page (content space), read cell for cell on the page turned by ``turns``
        (quarter turns counter-clockwise: its text running along it)."""
        return find_ruled_tables(self._page(page_no), turns)

    def render(self, page_no: int, dpi: int, max_side: int | None = None) -> tuple[PageImage, str | None]:
        """Render one page in content space; returns the image and a warning if the DPI had to be lowered to fit
        the render budget. ``max_side``: no larger than this many pixels on its longer side (the size a model
        reads: a page rendered for the layout model alone is drawn at twice that size, smoothed and halved, or where
        that draw does not fit the budget, drawn at the dpi and scaled by MuPDF's filter)."""
        page = self._page(page_no, PageRenderError)
        self._check_images(page)
        geo = self.geometry(page_no)
        warning = None
        zoom = render_zoom(geo, dpi, self.limits)
        if zoom < dpi / 72.0:
            if zoom * 72.0 < self.limits.min_dpi:
                raise PageRenderError(
                    f"page {page_no} is {geo.width:.0f}x{geo.height:.0f} pt: even {self.limits.min_dpi} dpi "
                    f"exceeds the render budget of {self.limits.max_page_pixels} pixels",
                    code="page_too_large",
                    page_no=page_no,
                )
            warning = f"page {page_no} rendered at {zoom * 72:.0f} dpi instead of {dpi} (render budget)"
        fitted = fit_zoom(geo, zoom, max_side)
        try:
            if fitted < zoom and geo.width * geo.height * (2 * fitted) ** 2 <= 0.99 * self.limits.max_page_pixels:
                array = _drawn_twice_halved(page, 2 * fitted)
            else:
                pix = _drawn_rgb(page, zoom)
                if fitted < zoom:
                    side = max_side or max(pix.width, pix.height)  # a draw one pixel over rounds to one over
                    width = min(round(pix.width * fitted / zoom), side)
                    height = min(round(pix.height * fitted / zoom), side)
                    pix = scaled_pixmap(pix, max(width, 1), max(height, 1))
                array = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, 3).copy()
        except RENDER_ERRORS as exc:
            raise PageRenderError(f"page {page_no} could not be rendered: {exc}", page_no=page_no) from exc
        height, width = array.shape[:2]
        image = PageImage(page_no=page_no, pixels=array, scale_x=width / geo.width, scale_y=height / geo.height)
        return image, warning

    def render_display_png(self, page_no: int, dpi: int) -> tuple[bytes, float]:
        """The page as displayed (after /Rotate) as PNG bytes, for annotated exports; returns (png, zoom)."""
        page = self._page(page_no, PageRenderError)
        self._check_images(page)
        geo = self.geometry(page_no)
        zoom = min(dpi / 72.0, (self.limits.max_page_pixels / (geo.width * geo.height)) ** 0.5)
        try:
            pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
            return pix.tobytes("png"), zoom
        except RENDER_ERRORS as exc:
            raise PageRenderError(f"page {page_no} could not be rendered: {exc}", page_no=page_no) from exc

    def _page(self, page_no: int, failure: type[PageError] = PageError) -> pymupdf.Page:
        """The page, or ``failure`` (a page error, not an internal one) where MuPDF cannot load it: a page tree
        with a cycle, a page object that is not a dictionary."""
        try:
            page: pymupdf.Page = self._doc.load_page(page_no - 1)
        except MUPDF_ERRORS as exc:
            raise failure(f"page {page_no} could not be loaded: {exc}", page_no=page_no) from exc
        return page

    def _check_images(self, page: pymupdf.Page) -> None:
        """Refuse to render a page that draws an image whose decoded size would exceed the budget."""
        try:
            images = page.get_images(full=True)
        except (RuntimeError, ValueError) as exc:
            raise PageRenderError(f"page {page.number + 1}: image list unreadable: {exc}") from exc
        for img in images:
            width, height = int(img[2]), int(img[3])
            if width * height > self.limits.max_image_pixels:
                raise PageRenderError(
                    f"page {page.number + 1} draws a {width}x{height} image; the decode budget is "
                    f"{self.limits.max_image_pixels} pixels",
                    code="image_too_large",
                    page_no=page.number + 1,
                )


def open_document(data: bytes, *, limits: Limits, password: str | None = None) -> PdfDocument:
    """Validate and open a PDF from bytes, or an image as a PDF of one page per frame (``pipeline.images``).

    Raises:
        EmptyDocumentError, NotAPdfError, DocumentTooLargeError, CorruptDocumentError,
        PasswordRequiredError, UnusableDocumentError.
    """
    check_upload(data, limits)
    kind = image_format(data)
    pdf = data if kind is None else image_pdf(data, kind, limits)  # an image: one page per frame
    try:
        doc = pymupdf.open(stream=pdf, filetype="pdf")
    except (RuntimeError, ValueError) as exc:
        raise CorruptDocumentError(f"the PDF cannot be opened: {exc}") from exc
    try:
        meta = _read_meta(doc, data, limits, password)
    except BaseException:
        doc.close()
        raise
    return PdfDocument(doc, meta, limits)


def _read_meta(doc: pymupdf.Document, data: bytes, limits: Limits, password: str | None) -> DocumentMeta:
    warnings: list[str] = []
    encrypted = bool(doc.is_encrypted or doc.needs_pass)
    if doc.needs_pass:
        if not password:
            raise PasswordRequiredError("the PDF is encrypted: send its password in the 'password' field")
        if not doc.authenticate(password):
            raise PasswordRequiredError("the password does not open this PDF", code="wrong_password")
    try:
        page_count = doc.page_count
    except (RuntimeError, ValueError) as exc:  # e.g. page-tree bombs: 'Invalid number of pages'
        raise UnusableDocumentError(f"the page tree is invalid: {exc}", code="invalid_page_tree") from exc
    if page_count == 0:
        raise UnusableDocumentError("the PDF has no pages", code="no_pages")
    if page_count > limits.max_pages:
        raise DocumentTooLargeError.pages(page_count, limits.max_pages)
    repaired = bool(doc.is_repaired)
    if repaired:
        warnings.append("the PDF was damaged and repaired by PyMuPDF; check the result")
    title = (doc.metadata or {}).get("title") or None
    return DocumentMeta(
        fingerprint=hashlib.sha256(data).hexdigest(),
        page_count=page_count,
        title=title,
        repaired=repaired,
        encrypted=encrypted,
        warnings=tuple(warnings),
    )
