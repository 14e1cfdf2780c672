"""The page image the layout model reads: drawn at twice its size, smoothed and halved (or, where that draw does not
fit the render budget, drawn at the dpi and scaled by MuPDF's filter). Both free what they make (PyMuPDF's
scaled-pixmap constructor leaks its result: pipeline.pdf.scaled_pixmap works around it; measured in a fresh process:
RSS after 300 renders of a page), and the halved image is the scaled one's size and darkness."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pymupdf
import pytest

from docgraph.samples import make_text_pdf
from pipeline.options import Limits
from pipeline.pdf import open_document, scaled_pixmap

CHILD = textwrap.dedent(
    """
    import psutil
    from docgraph.samples import make_text_pdf
    from pipeline.options import Limits
    from pipeline.pdf import open_document

    data, me = make_text_pdf(1), psutil.Process()
    doc = open_document(data, limits=Limits())
    doc.render(1, 144, 1024)  # warm: MuPDF's caches, numpy
    before = me.memory_info().rss
    small = open_document(data, limits=Limits(max_page_pixels=2_000_000))  # no room to draw it at 2048 px
    small.render(1, 144, 1024)
    for _ in range(150):
        doc.render(1, 144, 1024)  # drawn at 2048 px, halved: 9.7 MB drawn each
        small.render(1, 144, 1024)  # drawn at 144 dpi, scaled to 1024 px: 2.2 MB each
    print((me.memory_info().rss - before) >> 20)
    """
)


def test_rendering_for_the_layout_model_does_not_grow_the_process() -> None:
    grew_mib = int(subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True).stdout)
    assert grew_mib < 50, f"{grew_mib} MiB after 300 renders (the leak: ~330 through the 150 scaled renders)"


def test_the_scaled_pixmap_is_mupdfs_own() -> None:
    page = pymupdf.open(stream=make_text_pdf(1), filetype="pdf")[0]
    pix = page.get_pixmap(dpi=144)
    ours = scaled_pixmap(pix, 1024, 724)
    theirs = pymupdf.Pixmap(pix, 1024, 724, None)
    assert (ours.width, ours.height, ours.n) == (1024, 724, 3) and ours.samples == theirs.samples


@pytest.mark.parametrize("budget", [24_000_000, 2_000_000])
def test_the_layout_image_is_the_dpi_render_scaled_down(budget: int) -> None:
    """The letter page at 144 dpi: drawn at 2048 px and halved, or, where a render budget of 2 Mpx has no room for
    that draw (3.2 Mpx; the dpi's is 1.9), drawn at the dpi and scaled: either way the size MuPDF's scale of the
    dpi render has, and its ink to 1 %."""
    data = make_text_pdf(1)
    page = pymupdf.open(stream=data, filetype="pdf")[0]
    pix = page.get_pixmap(dpi=144)
    fit = 1024 / max(pix.width, pix.height)
    scaled = scaled_pixmap(pix, round(pix.width * fit), round(pix.height * fit))
    reference = np.frombuffer(scaled.samples, dtype=np.uint8).reshape(scaled.height, scaled.width, 3)
    image, warning = open_document(data, limits=Limits(max_page_pixels=budget)).render(1, 144, 1024)
    assert warning is None and image.pixels.shape == reference.shape
    assert image.scale_y == pytest.approx(1024 / page.rect.height)
    assert (image.pixels == reference).all() == (budget < 3_200_000)
    ink, reference_ink = 255.0 - image.pixels.mean(), 255.0 - reference.mean()
    assert abs(ink - reference_ink) < 0.01 * reference_ink, (ink, reference_ink)


def test_a_sliver_of_a_page_keeps_all_of_its_length() -> None:
    """A 3000 × 1 pt page, its right half black: one row of 1024 pixels, the right half of them dark (before, the
    row was the left half of the double-size draw: all white); and at a 2-Mpx budget (drawn at the dpi and scaled)
    the page's longer side is still at most 1024 pixels."""
    doc = pymupdf.open()
    page = doc.new_page(width=3000, height=1)
    page.draw_rect(pymupdf.Rect(1500, 0, 3000, 1), color=None, fill=(0, 0, 0))
    data = doc.tobytes()
    image, _ = open_document(data, limits=Limits()).render(1, 144, 1024)
    row = image.pixels[0].mean(axis=1)
    assert image.pixels.shape == (1, 1024, 3) and row[:500].min() > 250 and row[524:].max() < 128, row
    a4 = open_document(make_text_pdf(1), limits=Limits(max_page_pixels=2_000_000)).render(1, 300, 1024)[0]
    assert max(a4.pixels.shape[:2]) <= 1024
