"""docgraph's document logic: PDF in, DocumentGraph out. Imports no Ray, runs in-process or in replicas.

The names below load on first use (PEP 562): importing one small module of the package (``pipeline.page``,
``pipeline.geometry``, as a model replica or a PyMuPDF worker does) does not pull in the converter, PyMuPDF
and the exporters.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.convert import convert_document
    from pipeline.graph import Block, BlockType, DocumentGraph, Page, PageKind, PageStatus, Source
    from pipeline.options import ConvertOptions, Limits, OcrMode
    from pipeline.pdf import PdfDocument, open_document
    from pipeline.pdfpool import DocumentHandle, PdfPool
    from pipeline.steps import Step

_HOMES = {
    "convert_document": "pipeline.convert",
    "Block": "pipeline.graph",
    "BlockType": "pipeline.graph",
    "DocumentGraph": "pipeline.graph",
    "Page": "pipeline.graph",
    "PageKind": "pipeline.graph",
    "PageStatus": "pipeline.graph",
    "Source": "pipeline.graph",
    "ConvertOptions": "pipeline.options",
    "Limits": "pipeline.options",
    "OcrMode": "pipeline.options",
    "PdfDocument": "pipeline.pdf",
    "open_document": "pipeline.pdf",
    "DocumentHandle": "pipeline.pdfpool",
    "PdfPool": "pipeline.pdfpool",
    "Step": "pipeline.steps",
}

__all__ = [
    "Block",
    "BlockType",
    "ConvertOptions",
    "DocumentGraph",
    "DocumentHandle",
    "Limits",
    "OcrMode",
    "Page",
    "PageKind",
    "PageStatus",
    "PdfDocument",
    "PdfPool",
    "Source",
    "Step",
    "convert_document",
    "open_document",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    return getattr(import_module(home), name)
