"""Typed options of a conversion (per request) and the limits that guard intake (per deployment)."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.errors import InvalidDocumentError

MIB = 1024 * 1024


class InvalidOptionsError(InvalidDocumentError):
    code = "invalid_options"


class OcrMode(StrEnum):
    AUTO = "auto"  # OCR the pages whose text layer is missing or unusable (scanned, mixed)
    ALWAYS = "always"  # OCR every page (digital pages keep their text-layer text)
    NEVER = "never"  # never OCR: scanned pages come back with only layout regions


class Detail(StrEnum):
    """What a block carries below itself."""

    NONE = "none"  # the block's text and box
    LINES = "lines"  # + its lines with boxes (text layer or OCR)
    WORDS = "words"  # + its lines, and its words with boxes (text-layer pages)


class DeepSeekMode(StrEnum):
    """DeepSeek-OCR's resolution modes (other OCR backends ignore them)."""

    TINY = "tiny"  # one 512 px view
    SMALL = "small"  # one 640 px view
    BASE = "base"  # one 1024 px view
    LARGE = "large"  # one 1280 px view
    GUNDAM = "gundam"  # 640 px tiles + a 1024 px global view (upstream's default)


class OcrPrompt(StrEnum):
    GROUNDED = "grounded"  # markdown with a labelled box per block: typed, located blocks
    FREE = "free"  # plain text, no boxes: one block per page


class PictureLimits(BaseModel):
    """The per-page bound on OCR of picture regions (text in pictures on digital pages, ``ocr=auto|always``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_regions: int = Field(default=4, ge=0, description="Picture regions OCRed per page, the largest first.")
    min_area_pt2: float = Field(default=1500.0, ge=0, description="Smaller regions are not read (icons, bullets).")
    min_side_pt: float = Field(default=12.0, ge=0, description="Regions thinner than this are not read (rules).")
    min_confidence: float = Field(default=0.5, ge=0, le=1, description="OCR lines read less surely are dropped.")
    margin_pt: float = Field(default=2.0, ge=0, description="The crop reaches this far around the region.")
    fast_path_min_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description=(
            "With layout=false (no layout model), only drawn images covering at least this share of the page are "
            "read; the page is rendered for them alone."
        ),
    )


class Limits(BaseModel):
    """Bounds that hold for every request; hostile files meet these before they meet a model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: int = Field(default=100 * MIB, gt=0, description="Largest upload in bytes (HTTP 413 above).")
    max_pages: int = Field(default=2000, gt=0, description="Most pages in one PDF (HTTP 413 above).")
    upload_idle_timeout_s: float = Field(
        default=15.0, gt=0, description="An upload that sends no bytes for this long is cut off (HTTP 408)."
    )
    min_upload_rate: float = Field(
        default=16 * 1024.0,
        gt=0,
        description="Bytes/s an upload must average once upload_grace_s passed (else HTTP 408 slow_upload).",
    )
    upload_grace_s: float = Field(default=10.0, ge=0, description="How long an upload may start slowly.")
    max_page_pixels: int = Field(
        default=24_000_000,
        gt=0,
        description="Render budget per page; larger pages render at a lower DPI, with a warning (a letter page "
        "at 600 dpi is 34 Mpx: it renders at ~500 dpi, 72 MB of RGB).",
    )
    max_render_bytes: int = Field(
        default=768 * MIB,
        gt=0,
        description="Bytes of rendered page images in flight in one replica, all documents together: a render "
        "waits for room (at most render_wait_s, then that page fails with render_budget_busy).",
    )
    layout_max_side: int = Field(
        default=1024,
        ge=64,
        description="The layout model gets the page image at most this many pixels on its longer side: its input "
        "size (YOLO letterboxes to imgsz, 1024 by default, anyway). A page only the layout model reads is rendered "
        "at that size; a larger render (for OCR) is scaled down for it. Its boxes are scaled back.",
    )
    render_wait_s: float = Field(
        default=120.0,
        gt=0,
        description="How long a page may wait for room in the render budget (the pages ahead of it are being "
        "converted: two 8-page 600-dpi uploads at once queue ~16 pages of 67 MB); then render_budget_busy.",
    )
    min_dpi: int = Field(default=36, gt=0, description="Pages that need less than this to fit the budget fail.")
    max_image_pixels: int = Field(
        default=400_000_000, gt=0, description="Largest embedded image a page may draw before its render is refused."
    )
    max_page_primitives: int = Field(
        default=20_000,
        gt=0,
        description="Text lines and drawn items (images, paths) read per page; a page that draws more is "
        "degraded (the rest are not analysed) with a warning, never computed at any cost.",
    )
    pdf_workers: int = Field(
        default=2, gt=0, description="PyMuPDF worker processes per replica (or in-process converter)."
    )
    pdf_worker_max_rss: int = Field(
        default=1024 * MIB,
        gt=0,
        description="A PyMuPDF worker process whose resident memory is above this after a call is replaced.",
    )
    pdf_long_call_s: float = Field(
        default=0.5,
        gt=0,
        description="A document one of whose PyMuPDF calls took longer is heavy (see pdf_heavy_after_s).",
    )
    pdf_long_render_pixels: int = Field(
        default=12_000_000,
        gt=0,
        description="A render of more pixels is a long call, held with the heavy documents' calls (see "
        "pdf_heavy_after_s): a 600-dpi page is.",
    )
    pdf_heavy_after_s: float = Field(
        default=2.0,
        gt=0,
        description="A document that has had this much PyMuPDF worker time is heavy: heavy documents together "
        "hold at most all workers but one, which stays free for the others.",
    )
    queue_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a PyMuPDF call may wait for a free worker (then 503 pdf_workers_busy); its deadline "
        "starts when a worker takes it.",
    )
    text_timeout_s: float = Field(default=10.0, gt=0, description="Deadline for one page's text extraction.")
    render_timeout_s: float = Field(default=20.0, gt=0, description="Deadline for one page's render.")
    model_timeout_s: float = Field(default=120.0, gt=0, description="Deadline for one model call on one page.")
    document_timeout_s: float = Field(default=600.0, gt=0, description="Deadline for a whole conversion (504).")
    model_retries: int = Field(
        default=2, ge=0, description="Calls again of a model call whose replica died (within model_timeout_s)."
    )
    pages_in_flight: int = Field(
        default=8,
        gt=0,
        description="Pages of one document processed at once: bounds rendered-image memory. Enough to fill a "
        "layout batch; more only queues images at a busy replica (bench/service_overhead.py, README).",
    )
    pictures: PictureLimits = Field(
        default_factory=PictureLimits, description="Text in pictures on digital pages: how much of it is OCRed."
    )


class ConvertOptions(BaseModel):
    """What a caller may choose per request: the one declaration of the options. The HTTP API's parameters
    (serve/intake.py: query parameters, ``password`` a form field) and the CLI's ``convert`` options
    (docgraph/cli.py) are made from these fields: their names, types, defaults, constraints and descriptions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pages: str | None = Field(
        default=None, max_length=256, description="1-based page range, e.g. '1-3,7'; all pages if unset."
    )
    ocr: OcrMode = Field(default=OcrMode.AUTO, description="auto: OCR scanned/mixed pages; always; never.")
    layout: bool = Field(default=True, description="Run the layout model (false: text-layer fast path).")
    dpi: int = Field(default=144, ge=36, le=600, description="Render DPI for the models.")
    password: str | None = Field(default=None, max_length=1024, description="User password, if encrypted.")
    deepseek_mode: DeepSeekMode | None = Field(
        default=None, description="DeepSeek-OCR resolution mode (default: the deployment's)."
    )
    ocr_prompt: OcrPrompt | None = Field(
        default=None, description="DeepSeek-OCR prompt: grounded markdown (default) or free OCR."
    )
    detail: Detail = Field(
        default=Detail.NONE,
        description="none; lines: each block's lines with boxes; words: also its words (text-layer pages).",
    )

    @field_validator("pages")
    @classmethod
    def _check_pages(cls, value: str | None) -> str | None:
        if value is not None and not _RANGE_RE.fullmatch(value.replace(" ", "")):
            raise ValueError("pages must look like '1-3,7'")
        return value


_RANGE_RE = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*")


def parse_page_range(spec: str | None, page_count: int) -> list[int]:
    """'1-3,7' → [1, 2, 3, 7] (sorted, unique), checked against the document's page count."""
    if spec is None or spec.strip() == "":
        return list(range(1, page_count + 1))
    spec = spec.replace(" ", "")
    if not _RANGE_RE.fullmatch(spec):
        raise InvalidOptionsError(f"invalid page range {spec!r}", parameter="pages")
    pages: set[int] = set()
    for part in spec.split(","):
        lo_s, _, hi_s = part.partition("-")
        lo, hi = int(lo_s), int(hi_s or lo_s)
        if lo < 1 or hi < lo or hi > page_count:
            raise InvalidOptionsError(
                f"page range {part!r} is outside 1-{page_count}", parameter="pages", page_count=page_count
            )
        pages.update(range(lo, hi + 1))
    return sorted(pages)
