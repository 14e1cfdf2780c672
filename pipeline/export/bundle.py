"""Zip bundle: the graph in every registered format (``document.json``, ``document.md``, ``document.html``)
plus one annotated PNG per converted page and one PNG per figure (``figures/page-NNNN-K.png``, named by the
figure's ``image``)."""

from __future__ import annotations

import io
import zipfile

from pipeline.export.registry import EXPORTERS
from pipeline.graph import DocumentGraph


class ZipBundleSerializer:
    def serialize(
        self, graph: DocumentGraph, annotated: dict[int, bytes], figures: dict[str, bytes] | None = None
    ) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for exporter in EXPORTERS.values():
                zf.writestr(f"document.{exporter.extension}", exporter.export(graph))
            for page_no, png in sorted(annotated.items()):
                zf.writestr(f"pages/page-{page_no:04d}.png", png, compress_type=zipfile.ZIP_STORED)
            for path, png in sorted((figures or {}).items()):
                zf.writestr(path, png, compress_type=zipfile.ZIP_STORED)
        return out.getvalue()
