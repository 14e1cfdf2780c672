"""Image uploads as documents: a PNG, JPEG, TIFF (every frame a page) or WebP becomes a PDF of one page per
image, sized from the image's resolution (``DEFAULT_DPI`` where it has none), which the pipeline then reads as
it reads a scan (the OCR route). Runs where PDFs are opened, in the PyMuPDF worker processes, under the same
bounds: a frame over ``limits.max_image_pixels`` is refused before it is decoded (422 ``image_too_large``), more
frames than ``limits.max_pages`` too (413), and a truncated or unreadable image is a corrupt upload (400).
"""

from __future__ import annotations

import io
import warnings
from enum import StrEnum

import pymupdf
from PIL import Image, ImageSequence, UnidentifiedImageError

from pipeline.errors import CorruptDocumentError, DocumentTooLargeError, UnusableDocumentError
from pipeline.options import Limits

DEFAULT_DPI = 144.0  # an image without a resolution is taken as a 144-dpi page (docgraph's render resolution)
MIN_DPI, MAX_DPI = 10.0, 5000.0  # a stated resolution outside these is taken as missing


class ImageFormat(StrEnum):
    PNG = "png"
    JPEG = "jpeg"
    TIFF = "tiff"
    WEBP = "webp"


_MAGIC: tuple[tuple[bytes, ImageFormat], ...] = (
    (b"\x89PNG\r\n\x1a\n", ImageFormat.PNG),
    (b"\xff\xd8\xff", ImageFormat.JPEG),
    (b"II*\x00", ImageFormat.TIFF),
    (b"MM\x00*", ImageFormat.TIFF),
)
EMBEDDED = frozenset({ImageFormat.PNG, ImageFormat.JPEG})  # put in the PDF as they are (MuPDF reads them)


def image_format(data: bytes) -> ImageFormat | None:
    """The image format the bytes start with, or None."""
    for magic, found in _MAGIC:
        if data.startswith(magic):
            return found
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ImageFormat.WEBP
    return None


def image_pdf(data: bytes, kind: ImageFormat, limits: Limits) -> bytes:
    """The image (every frame of it) as a PDF of one page per frame.

    Raises:
        CorruptDocumentError: the image cannot be read (truncated, malformed).
        UnusableDocumentError: a frame has more pixels than ``limits.max_image_pixels`` (code ``image_too_large``).
        DocumentTooLargeError: more frames than ``limits.max_pages``.
    """
    pdf = pymupdf.open()
    # Pillow's own guard against decompression bombs (a warning above MAX_IMAGE_PIXELS, an error above twice it),
    # set to this budget for this call and made an error: refused when the header is read, before anything is
    # decoded. The PyMuPDF worker processes open uploads one call at a time.
    guard, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, limits.max_image_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                frames = int(getattr(image, "n_frames", 1))
                if frames > limits.max_pages:
                    raise DocumentTooLargeError.pages(frames, limits.max_pages, "the image has", "frames")
                for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                    _add_page(pdf, frame, number, data if kind in EMBEDDED and frames == 1 else None, limits)
        out: bytes = pdf.tobytes(garbage=1)
        return out
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        message = f"the {kind.value.upper()} image cannot be read: {exc}"
        raise CorruptDocumentError(message, code="corrupt_image") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnusableDocumentError(f"the image is too large to decode: {exc}", code="image_too_large") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = guard
        pdf.close()


def _add_page(pdf: pymupdf.Document, frame: Image.Image, number: int, original: bytes | None, limits: Limits) -> None:
    width, height = frame.size
    if width * height > limits.max_image_pixels:
        raise UnusableDocumentError(
            f"image frame {number} is {width}x{height} pixels; the decode budget is {limits.max_image_pixels}",
            code="image_too_large",
        )
    frame.load()  # decoded within the budget: a truncated image fails here, not later on its page
    xdpi, ydpi = _resolution(frame)
    page = pdf.new_page(width=width * 72.0 / xdpi, height=height * 72.0 / ydpi)
    if original is None:
        buffer = io.BytesIO()
        frame.convert("RGBA" if "A" in frame.getbands() else "RGB").save(buffer, format="PNG")
        original = buffer.getvalue()
    page.insert_image(page.rect, stream=original)


def _resolution(frame: Image.Image) -> tuple[float, float]:
    dpi = frame.info.get("dpi")
    try:
        x, y = (float(v) for v in dpi) if dpi else (DEFAULT_DPI, DEFAULT_DPI)
    except (TypeError, ValueError):
        return DEFAULT_DPI, DEFAULT_DPI
    return (x if MIN_DPI <= x <= MAX_DPI else DEFAULT_DPI), (y if MIN_DPI <= y <= MAX_DPI else DEFAULT_DPI)
