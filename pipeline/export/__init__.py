"""Exporters of a ``DocumentGraph``: one serializer per format."""

from pipeline.export.annotate import AnnotatedPageRenderer
from pipeline.export.bundle import ZipBundleSerializer
from pipeline.export.json import JsonSerializer
from pipeline.export.markdown import MarkdownSerializer

__all__ = ["AnnotatedPageRenderer", "JsonSerializer", "MarkdownSerializer", "ZipBundleSerializer"]
