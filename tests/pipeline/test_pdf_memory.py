"""Rendering pages for the layout model frees what it makes (PyMuPDF's scaled-pixmap constructor leaks its result:
pipeline.pdf.scaled_pixmap works around it). Measured in a fresh process: RSS after 300 renders of a page."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pymupdf

from docgraph.samples import make_text_pdf
from pipeline.pdf import scaled_pixmap

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
    for _ in range(300):
        doc.render(1, 144, 1024)  # drawn at 144 dpi, scaled to 1024 px: 2.2 MB each
    print((me.memory_info().rss - before) >> 20)
    """
)


def test_rendering_for_the_layout_model_does_not_grow_the_process() -> None:
    grew_mib = int(subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True).stdout)
    assert grew_mib < 50, f"{grew_mib} MiB after 300 renders (the leak: ~660)"


def test_the_scaled_pixmap_is_mupdfs_own() -> None:
    page = pymupdf.open(stream=make_text_pdf(1), filetype="pdf")[0]
    pix = page.get_pixmap(dpi=144)
    ours = scaled_pixmap(pix, 1024, 724)
    theirs = pymupdf.Pixmap(pix, 1024, 724, None)
    assert (ours.width, ours.height, ours.n) == (1024, 724, 3) and ours.samples == theirs.samples
