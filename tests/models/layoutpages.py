"""Pages the layout-model tests read: generated ones always, real corpus pages when ../shared is there."""

from __future__ import annotations

from docgraph.samples import make_sample_pdf, make_text_pdf
from pipeline.options import Limits
from pipeline.page import PageImage
from pipeline.pdf import open_document
from tests.conftest import CORPUS

CORPUS_PAGES = [("lots_of_sci_tables.pdf", 3), ("multicolumn.pdf", 2), ("pdftotext_two_column_issue.pdf", 2)]


def render(data: bytes, count: int) -> list[PageImage]:
    """The first ``count`` pages at 144 dpi."""
    doc = open_document(data, limits=Limits())
    return [doc.render(n, dpi=144)[0] for n in range(1, min(count, doc.page_count) + 1)]


def layout_pages() -> list[PageImage]:
    """Generated pages always; real corpus pages when the corpus is there."""
    found = render(make_sample_pdf(), 3) + render(make_text_pdf(2), 2)
    for name, count in CORPUS_PAGES:
        if (CORPUS / name).is_file():
            found += render((CORPUS / name).read_bytes(), count)
    return found
