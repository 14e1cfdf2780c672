"""docgraph's document logic: PDF in, DocumentGraph out. Imports no Ray, runs in-process or in replicas."""

from pipeline.convert import convert_document
from pipeline.graph import Block, BlockType, DocumentGraph, Page, PageKind, PageStatus, Source
from pipeline.options import ConvertOptions, Limits, OcrMode
from pipeline.pdf import PdfDocument, open_document
from pipeline.steps import Step
from pipeline.worker import PdfWorker

__all__ = [
    "Block",
    "BlockType",
    "ConvertOptions",
    "DocumentGraph",
    "Limits",
    "OcrMode",
    "Page",
    "PageKind",
    "PageStatus",
    "PdfDocument",
    "PdfWorker",
    "Source",
    "Step",
    "convert_document",
    "open_document",
]
