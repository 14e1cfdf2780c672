"""What the HTTP endpoints take in: the conversion options, the upload, the client's file name.

Shared by ``/v1/convert`` and ``/v1/jobs``; kept out of serve/ingress.py (whose class Serve ships by value) so
that it is imported, not copied, into the replica.
"""

# No `from __future__ import annotations`: FastAPI reads `convert_options`' annotations at run time.

from typing import Annotated

from fastapi import Form, Query, UploadFile
from pydantic import ValidationError

from pipeline import ConvertOptions, OcrMode
from pipeline.errors import DocumentTooLargeError
from pipeline.options import DeepSeekMode, InvalidOptionsError, Limits, OcrPrompt, parse_page_range
from pipeline.pdf import open_document

MULTIPART_OVERHEAD = 64 * 1024  # room for the form's framing above limits.max_bytes (serve/bodylimit.py)


def convert_options(
    password: Annotated[str | None, Form(max_length=1024, description="User password, if encrypted.")] = None,
    pages: Annotated[str | None, Query(max_length=256, description="Page range, e.g. '1-3,7'.")] = None,
    ocr: Annotated[OcrMode, Query(description="auto: scanned/mixed pages; always; never.")] = OcrMode.AUTO,
    layout: Annotated[bool, Query(description="Run the layout model (false: text-layer fast path).")] = True,
    dpi: Annotated[int, Query(ge=36, le=600, description="Render DPI for the models.")] = 144,
    deepseek_mode: Annotated[
        DeepSeekMode | None, Query(description="DeepSeek-OCR resolution mode (default: the deployment's).")
    ] = None,
    ocr_prompt: Annotated[
        OcrPrompt | None, Query(description="DeepSeek-OCR prompt: grounded markdown or free OCR.")
    ] = None,
) -> ConvertOptions:
    """The conversion options both /v1/convert and /v1/jobs take."""
    try:
        return ConvertOptions(
            pages=pages,
            ocr=ocr,
            layout=layout,
            dpi=dpi,
            password=password or None,
            deepseek_mode=deepseek_mode,
            ocr_prompt=ocr_prompt,
        )
    except ValidationError as exc:
        raise InvalidOptionsError(f"invalid options: {exc.errors()[0]['msg']}") from exc


async def read_upload(file: UploadFile, limits: Limits) -> bytes:
    """The file part's bytes, at most ``limits.max_bytes`` of them (the whole body is capped while it streams,
    by serve/bodylimit.py; this bounds the file part itself)."""
    data = await file.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise DocumentTooLargeError(
            f"the upload is larger than the limit of {limits.max_bytes} bytes", limit=limits.max_bytes
        )
    return data


def count_pages(data: bytes, limits: Limits, options: ConvertOptions) -> int:
    """Open the PDF once (PyMuPDF thread): a bad upload is refused now, not as a failed job later."""
    doc = open_document(data, limits=limits, password=options.password)
    try:
        return len(parse_page_range(options.pages, doc.page_count))
    finally:
        doc.close()


def safe_name(name: str | None) -> str | None:
    """The client's filename is only ever echoed back, never used as a path; keep it short and printable."""
    if not name:
        return None
    cleaned = "".join(c for c in name.replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable())
    return cleaned[:255] or None
