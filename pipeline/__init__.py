"""docgraph's document logic: PDF in, DocumentGraph out. Imports no Ray, runs in-process or in replicas."""

from pipeline.convert import convert_document
from pipeline.graph import Block, BlockType, DocumentGraph, Page, PageKind, PageStatus, Source
from pipeline.options import ConvertOptions, Limits, OcrMode
from pipeline.pdf import PdfDocument, open_document
from pipeline.pdfpool import DocumentHandle, PdfPool
from pipeline.steps import Step

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
