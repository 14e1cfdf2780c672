"""Exporters of a ``DocumentGraph``: one serializer per format, looked up by name in ``registry``."""

from pipeline.export.annotate import AnnotatedPageRenderer
from pipeline.export.bundle import ZipBundleSerializer
from pipeline.export.docling import DoclingSerializer
from pipeline.export.html import HtmlSerializer
from pipeline.export.json import JsonSerializer
from pipeline.export.markdown import MarkdownSerializer
from pipeline.export.registry import EXPORTERS, Exporter, ExportOptions, exporter

__all__ = [
    "EXPORTERS",
    "AnnotatedPageRenderer",
    "DoclingSerializer",
    "ExportOptions",
    "Exporter",
    "HtmlSerializer",
    "JsonSerializer",
    "MarkdownSerializer",
    "ZipBundleSerializer",
    "exporter",
]
