"""One registry from a format name to the exporter that writes it, with its media type and file extension.

``/v1/convert``, the jobs result route, the zip bundle and the CLI all look formats up here, so a new format
is one exporter module plus one line below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from pipeline.export.html import HtmlSerializer
from pipeline.export.json import JsonSerializer
from pipeline.export.markdown import MarkdownSerializer
from pipeline.graph import DocumentGraph


@dataclass(frozen=True, slots=True)
class Exporter:
    name: str
    media_type: str
    extension: str
    render: Callable[[DocumentGraph], str]

    def export(self, graph: DocumentGraph) -> bytes:
        return self.render(graph).encode("utf-8")


EXPORTERS: Final[dict[str, Exporter]] = {
    e.name: e
    for e in (
        Exporter("json", "application/json", "json", JsonSerializer().serialize),
        Exporter("markdown", "text/markdown; charset=utf-8", "md", MarkdownSerializer().serialize),
        Exporter("html", "text/html; charset=utf-8", "html", HtmlSerializer().serialize),
    )
}


def exporter(name: str) -> Exporter:
    """The exporter of a format name; ``KeyError`` for one no exporter writes."""
    return EXPORTERS[name]
