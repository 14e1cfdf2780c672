"""One page as a PNG at a DPI: the viewer's page images (/ui), and API clients' (POST /v1/render, and
GET /v1/jobs/{id}/pages/{n}/image from a job's stored upload).

Bounded like every render: in a PyMuPDF worker of the pool, within ``limits.render_timeout_s``, at most
``limits.max_page_pixels`` (a larger page renders at a lower DPI, said in ``X-Docgraph-Dpi``), and a page
that draws an image past the decode budget is refused (422 ``render_failed``) instead of decoded.
"""

# No `from __future__ import annotations`: FastAPI reads `PageImageQuery`'s annotations at run time.

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Annotated, Final

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from pipeline.options import InvalidOptionsError, Limits
from pipeline.pdfpool import PdfPool

PREVIEW_DPI: Final = 96
MAX_PREVIEW_DPI: Final = 216  # 3x a screen's 72 dpi: enough to zoom in; the models' 600 is not a preview


class PageImage(BaseModel):
    model_config = ConfigDict(frozen=True)

    png: bytes
    dpi: float = Field(description="The DPI the page was rendered at (lower than asked when over the pixel budget).")

    def headers(self) -> dict[str, str]:
        return {"X-Docgraph-Dpi": f"{self.dpi:.1f}", "Cache-Control": "private, max-age=300"}


DpiQuery = Annotated[
    int,
    Query(
        ge=36,
        le=MAX_PREVIEW_DPI,
        description=f"Resolution of the image (at most {MAX_PREVIEW_DPI}; default "
        f"{PREVIEW_DPI}). Large pages render lower, to the pixel budget: X-Docgraph-Dpi says what was used.",
    ),
]


async def page_png(
    pool: PdfPool, data: bytes, *, limits: Limits, password: str | None, page_no: int, dpi: int
) -> PageImage:
    """Page ``page_no`` (1-based) as displayed (after /Rotate), as PNG bytes."""
    doc = await pool.open(data, limits=limits, password=password)
    try:
        if not 1 <= page_no <= doc.page_count:
            raise InvalidOptionsError(f"page {page_no} is not in this {doc.page_count}-page document")
        png, zoom = await doc.render_display_png(page_no, dpi)
        return PageImage(png=png, dpi=zoom * 72.0)
    finally:
        doc.close()


class UploadCache:
    """Jobs' PDFs for their page images, kept a little while in the ingress: a viewer asks for a document's pages
    one by one, and each would otherwise read the whole upload from the store again (a large value from Redis, or
    a BLOB on SQLite's one store thread, in front of heartbeats). Least recently used first out, at most
    ``max_bytes`` in all, each for ``ttl_s`` after it was read; an upload larger than ``max_bytes`` is not kept."""

    def __init__(self, *, max_bytes: int = 256 * 1024 * 1024, ttl_s: float = 120.0) -> None:
        self.max_bytes, self.ttl_s = max_bytes, ttl_s
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    async def get(self, key: str, load: Callable[[], Awaitable[bytes | None]]) -> bytes | None:
        now = time.monotonic()
        found = self._items.get(key)
        if found is not None and now - found[0] < self.ttl_s:
            self._items.move_to_end(key)
            return found[1]
        data = await load()
        self._drop(key)
        if data is not None and len(data) <= self.max_bytes:
            self._items[key] = (now, data)
            self._bytes += len(data)
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._items)))
        return data

    def _drop(self, key: str) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= len(old[1])
