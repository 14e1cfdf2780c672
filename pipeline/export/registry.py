"""One registry from a format name to the exporter that writes it, with its label, media type and file extension.

``/v1/convert``, the jobs result route, ``GET /v1/formats`` (which the viewer's downloads are made from), the zip
bundle and the CLI all look formats up here, so a new format is one exporter module, one line below, and its
member of ``serve.api.OutputFormat`` (the HTTP parameter's documented values; a test keeps the two equal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from pipeline.export.chunks import ChunkSerializer
from pipeline.export.docling import DoclingSerializer
from pipeline.export.html import HtmlSerializer
from pipeline.export.json import JsonSerializer
from pipeline.export.markdown import MarkdownSerializer
from pipeline.graph import DocumentGraph


class ExportOptions(BaseModel):
    """How a graph is written, whatever converted it (query parameters of the routes that export)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    furniture: bool = Field(
        default=False, description="Put page headers and footers back into Markdown and HTML (left out by default)."
    )


@dataclass(frozen=True, slots=True)
class Exporter:
    name: str
    label: str  # what a person is shown (the viewer's download button)
    media_type: str
    extension: str
    render: Callable[[DocumentGraph, ExportOptions], str]

    def export(self, graph: DocumentGraph, options: ExportOptions | None = None) -> bytes:
        return self.render(graph, options or ExportOptions()).encode("utf-8")


EXPORTERS: Final[dict[str, Exporter]] = {
    e.name: e
    for e in (
        Exporter("json", "JSON", "application/json", "json", lambda g, _: JsonSerializer().serialize(g)),
        Exporter(
            "markdown",
            "Markdown",
            "text/markdown; charset=utf-8",
            "md",
            lambda g, o: MarkdownSerializer(furniture=o.furniture).serialize(g),
        ),
        Exporter(
            "html",
            "HTML",
            "text/html; charset=utf-8",
            "html",
            lambda g, o: HtmlSerializer(furniture=o.furniture).serialize(g),
        ),
        Exporter(
            "docling",
            "DoclingDocument",
            "application/json",
            "docling.json",
            lambda g, _: DoclingSerializer().serialize(g),
        ),
        Exporter("chunks", "Chunks", "application/json", "chunks.json", lambda g, _: ChunkSerializer().serialize(g)),
    )
}


def exporter(name: str) -> Exporter:
    """The exporter of a format name; ``KeyError`` for one no exporter writes."""
    return EXPORTERS[name]
