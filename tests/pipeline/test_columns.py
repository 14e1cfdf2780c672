"""Reading order on a three-column page under a full-width header band, with a footnote across the bottom (issue
25: a register's columns read across). The paragraphs of the three columns break at the same heights, the case
where a plain XY-cut reads row by row."""

from __future__ import annotations

from typing import Any

import pymupdf
import pytest

from pipeline.graph import BlockType
from pipeline.options import ConvertOptions

pytestmark = pytest.mark.models

LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore. "
PARAGRAPHS = [f"C{c}P{p}" for c in (1, 2, 3) for p in (1, 2, 3)]  # column by column, top to bottom


def three_column_pdf() -> bytes:
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_htmlbox(pymupdf.Rect(54, 50, 558, 90), "<h1 style='font-size:20px'>Register of Notices</h1>")
    page.insert_htmlbox(pymupdf.Rect(54, 92, 558, 130), "<p style='font-size:10px'>" + "Band text. " * 12 + "</p>")
    for label in PARAGRAPHS:
        c, p = int(label[1]) - 1, int(label[3]) - 1
        x0, y0 = 54 + c * 172, 140 + p * 190
        body = f"<p style='font-size:9px'><b>{label}</b> {LOREM * 3}</p>"
        page.insert_htmlbox(pymupdf.Rect(x0, y0, x0 + 160, y0 + 180), body)
    page.insert_htmlbox(pymupdf.Rect(54, 720, 558, 760), "<p style='font-size:8px'>1 A footnote. </p>")
    data: bytes = doc.tobytes()
    doc.close()
    return data


@pytest.mark.parametrize("layout", [True, False], ids=["layout", "text-layer"])
def test_three_columns_under_a_header_band_read_column_by_column(local_converter: Any, layout: bool) -> None:
    graph = local_converter.convert_sync(three_column_pdf(), ConvertOptions(layout=layout), filename="three.pdf")
    body = [b for b in graph.blocks if b.order is not None]
    assert body[0].type is BlockType.TITLE and body[0].text == "Register of Notices"
    assert body[1].text.startswith("Band text.")
    assert [b.text.split()[0] for b in body[2:11]] == PARAGRAPHS
    assert all(b.text.startswith("1 A footnote") for b in body[11:])  # the footnote last (or furniture)
