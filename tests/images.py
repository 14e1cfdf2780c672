"""Image uploads the tests make: a page of text as PNG, JPEG, TIFF (several frames) or WebP, and hostile ones."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw, ImageFont

WORDS = "Invoice number 4711"


def image_upload(fmt: str, frames: int = 1, *, dpi: int | None = None) -> bytes:
    """``frames`` pages of large black text on white (``WORDS`` and the frame's number), encoded as ``fmt``."""
    pages = []
    for k in range(1, frames + 1):
        page = Image.new("RGB", (1200, 800), "white")
        draw = ImageDraw.Draw(page)
        draw.text((80, 100), WORDS, fill="black", font=ImageFont.load_default(size=48))
        draw.text((80, 220), f"Page {k} of {frames}", fill="black", font=ImageFont.load_default(size=48))
        pages.append(page)
    out = io.BytesIO()
    extra: dict[str, object] = {"dpi": (dpi, dpi)} if dpi else {}
    if fmt == "TIFF":
        extra["compression"] = "tiff_lzw"  # uncompressed, three frames are 8.6 MB
    if frames > 1:
        pages[0].save(out, fmt, save_all=True, append_images=pages[1:], **extra)
    else:
        pages[0].save(out, fmt, **extra)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int = 100_000) -> bytes:
    """A PNG whose header says ``side`` × ``side`` pixels (10 billion by default) in a few hundred bytes: a
    decompression bomb, refused from its header."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    pixels = _chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + pixels + _chunk(b"IEND", b"")
