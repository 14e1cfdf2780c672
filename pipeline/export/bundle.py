"""Zip bundle: the graph as JSON and Markdown plus one annotated PNG per converted page."""

from __future__ import annotations

import io
import zipfile

from pipeline.export.json import JsonSerializer
from pipeline.export.markdown import MarkdownSerializer
from pipeline.graph import DocumentGraph


class ZipBundleSerializer:
    def serialize(self, graph: DocumentGraph, annotated: dict[int, bytes]) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("document.json", JsonSerializer().serialize(graph, indent=2))
            zf.writestr("document.md", MarkdownSerializer().serialize(graph))
            for page_no, png in sorted(annotated.items()):
                zf.writestr(f"pages/page-{page_no:04d}.png", png, compress_type=zipfile.ZIP_STORED)
        return out.getvalue()
