"""Sample PDFs the project makes itself (README job, tests on a clone without ../shared): PyMuPDF, no assets.

``make_sample_pdf`` writes three pages: a born-digital page (title, two columns, a ruled table), a page with
a figure, caption and list, and an image-only "scanned" page (page 1 rasterised), so one file exercises the
text-layer route, the layout model and OCR.
"""

from __future__ import annotations

import pymupdf

LOREM = (
    "Document graphs describe a PDF as pages holding typed blocks with boxes, text and reading order. "
    "Each block records where its text came from and how confident the models were. "
)
TITLE = "Sample Report on Document Graphs"


def _text(page: pymupdf.Page, rect: pymupdf.Rect, text: str, **kw: object) -> None:
    """insert_textbox, but loud: PyMuPDF silently drops text that does not fit its box."""
    if page.insert_textbox(rect, text, **kw) < 0:  # type: ignore[arg-type]  # PyMuPDF's kwargs are untyped
        raise ValueError(f"sample text does not fit {rect}: {text[:40]!r}")


def _digital_page(doc: pymupdf.Document) -> None:
    page = doc.new_page(width=612, height=792)
    _text(page, pymupdf.Rect(72, 60, 540, 100), TITLE, fontsize=22, fontname="hebo", align=1)
    _text(page, pymupdf.Rect(72, 106, 540, 136), "1 Introduction", fontsize=14, fontname="hebo")
    left = "Left column. " + LOREM * 4
    right = "Right column. " + LOREM * 4
    _text(page, pymupdf.Rect(72, 140, 296, 470), left, fontsize=10, fontname="helv")
    _text(page, pymupdf.Rect(316, 140, 540, 470), right, fontsize=10, fontname="helv")
    _text(page, pymupdf.Rect(72, 484, 540, 514), "2 Results", fontsize=14, fontname="hebo")
    rows = [("Route", "Pages/s", "GPU"), ("text layer", "500", "no"), ("layout", "6", "yes"), ("OCR", "0.3", "yes")]
    top, height, cols = 520.0, 22.0, (72.0, 232.0, 392.0, 540.0)
    for r, row in enumerate(rows):
        y = top + r * height
        for c, cell in enumerate(row):
            _text(page, pymupdf.Rect(cols[c] + 4, y + 5, cols[c + 1] - 4, y + height), cell, fontsize=10)
    for r in range(len(rows) + 1):
        page.draw_line((cols[0], top + r * height), (cols[-1], top + r * height))
    for x in cols:
        page.draw_line((x, top), (x, top + len(rows) * height))
    _text(page, pymupdf.Rect(72, 740, 540, 760), "docgraph sample - page 1", fontsize=8, align=1)


def _figure_page(doc: pymupdf.Document) -> None:
    page = doc.new_page(width=612, height=792)
    _text(page, pymupdf.Rect(72, 56, 540, 86), "3 Architecture", fontsize=14, fontname="hebo")
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 400, 240), False)
    pix.set_rect(pix.irect, (230, 240, 250))
    pix.set_rect(pymupdf.IRect(40, 40, 180, 200), (31, 119, 180))
    pix.set_rect(pymupdf.IRect(220, 80, 360, 160), (255, 127, 14))
    page.insert_image(pymupdf.Rect(106, 100, 506, 340), pixmap=pix)
    _text(
        page,
        pymupdf.Rect(72, 350, 540, 380),
        "Figure 1: The ingress fans pages out to the layout and OCR models.",
        fontsize=9,
        fontname="heit",
        align=1,
    )
    items = ["Digital pages read the PDF text layer.", "Scanned pages go to OCR.", "Every block keeps its source."]
    for i, item in enumerate(items):
        _text(page, pymupdf.Rect(90, 400 + i * 22, 540, 420 + i * 22), f"- {item}", fontsize=11)


def _scanned_page(doc: pymupdf.Document, source: pymupdf.Document) -> None:
    pix = source[0].get_pixmap(dpi=150)
    page = doc.new_page(width=612, height=792)
    page.insert_image(page.rect, pixmap=pix)


def make_sample_pdf() -> bytes:
    """A 3-page sample: born-digital, figure + list, and an image-only scan of page 1."""
    doc = pymupdf.open()
    _digital_page(doc)
    _figure_page(doc)
    _scanned_page(doc, doc)
    doc.set_metadata({"title": TITLE, "producer": "docgraph samples"})
    data: bytes = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data


def make_text_pdf(pages: int, *, paragraphs: int = 6) -> bytes:
    """A born-digital PDF of ``pages`` pages of plain paragraphs (benchmarks, page-count tests)."""
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page(width=612, height=792)
        _text(page, pymupdf.Rect(72, 60, 540, 90), f"Section {n + 1}", fontsize=16, fontname="hebo")
        for p in range(paragraphs):
            top = 100 + p * 105
            _text(page, pymupdf.Rect(72, top, 540, top + 100), f"Paragraph {p + 1}. " + LOREM * 3, fontsize=10)
    data: bytes = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data


def make_many_draws_pdf(draws: int, *, pages: int = 1, per_row: int = 250) -> bytes:
    """Pages with a line of text that each draw one 1×1 pt image ``draws`` times, non-overlapping (2 pt apart):
    the hostile page of a few KB whose primitives once made text-layer analysis quadratic."""
    doc = pymupdf.open()
    dot = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 1, 1), False)
    ops = b"\n".join(
        f"q 1 0 0 1 {(i % per_row) * 2 + 36} {700 - (i // per_row) * 2} cm /{{name}} Do Q".encode()
        for i in range(draws)
    )
    for _ in range(pages):
        page = doc.new_page(width=612, height=792)
        page.insert_text((72, 72), "A page that draws many tiny images.", fontsize=11)
        page.insert_image(pymupdf.Rect(0, 0, 1, 1), pixmap=dot)
        name = page.get_images(full=True)[0][7]
        xref = page.get_contents()[-1]
        doc.update_stream(xref, doc.xref_stream(xref) + b"\n" + ops.replace(b"{name}", name.encode()))
    data: bytes = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data


def _table(
    page: pymupdf.Page,
    top: float,
    rows: list[list[str]],
    *,
    ruled: bool,
    spans: dict[tuple[int, int], int] | None = None,
    left: float = 72.0,
    width: float = 468.0,
    row_height: float = 22.0,
) -> float:
    """Draw ``rows`` as a table (``spans``: (row, col) → columns a cell spans; the slots it covers hold '').
    Header row bold. Returns the y below the table."""
    spans = spans or {}
    ncols = max(len(r) for r in rows)
    col_w = width / ncols
    for r, row in enumerate(rows):
        y = top + r * row_height
        c = 0
        while c < ncols:
            span = spans.get((r, c), 1)
            text = row[c] if c < len(row) else ""
            x0, x1 = left + c * col_w, left + (c + span) * col_w
            font = "hebo" if r == 0 else "helv"
            _text(page, pymupdf.Rect(x0 + 4, y + 5, x1 - 4, y + row_height), text, fontsize=10, fontname=font)
            if ruled and r > 0:  # a rule above every body row, across the cell
                page.draw_line((x0, y), (x1, y))
            if ruled:  # the cell's left rule
                page.draw_line((x0, y), (x0, y + row_height))
            c += span
    bottom = top + len(rows) * row_height
    if ruled:
        page.draw_line((left, top), (left + width, top))
        page.draw_line((left, bottom), (left + width, bottom))
        page.draw_line((left + width, top), (left + width, bottom))
    return bottom


TABLE_ROWS = [
    ["Region", "Quarter", "Revenue", "Growth"],
    ["North", "Q1", "1200", "4.5"],
    ["South", "Q1", "980", "3.1"],
    ["East", "Q2", "1430", "6.2"],
    ["West", "Q2", "1105", "2.8"],
]


def make_table_pdf(kind: str) -> tuple[bytes, list[list[str]]]:
    """A one-page report with one table of known cells, and those cells as a grid (a spanning cell's text in
    every slot it covers). ``kind``: ``ruled``, ``unruled``, ``spanning`` (a header cell over two columns),
    ``scanned`` (the ruled page rasterised at 150 dpi), ``two_pages`` (a ruled table continued on page 2,
    its header repeated)."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    _text(page, pymupdf.Rect(72, 56, 540, 96), "Quarterly Figures", fontsize=16, fontname="hebo")
    _text(page, pymupdf.Rect(72, 100, 540, 200), LOREM * 3, fontsize=10)
    grid = [list(r) for r in TABLE_ROWS]
    if kind == "two_pages":  # the table ends page 1 and goes on at the top of page 2
        _text(page, pymupdf.Rect(72, 210, 540, 310), LOREM * 3, fontsize=10)
        _table(page, 620, TABLE_ROWS, ruled=True)
    elif kind in ("ruled", "scanned"):
        _table(page, 220, TABLE_ROWS, ruled=True)
    elif kind == "unruled":
        _table(page, 220, TABLE_ROWS, ruled=False)
    elif kind == "spanning":
        rows = [["Region", "Sales", "", "Growth"], *TABLE_ROWS[1:]]
        _table(page, 220, rows, ruled=True, spans={(0, 1): 2})
        grid = [["Region", "Sales", "Sales", "Growth"], *[list(r) for r in TABLE_ROWS[1:]]]
    else:
        raise ValueError(f"unknown table kind: {kind}")
    if kind != "two_pages":
        _text(page, pymupdf.Rect(72, 360, 540, 460), LOREM * 3, fontsize=10)
    else:
        more = [["North", "Q3", "1310", "5.0"], ["South", "Q3", "1001", "2.1"], ["East", "Q4", "1500", "4.9"]]
        page2 = doc.new_page(width=612, height=792)
        _table(page2, 72, [TABLE_ROWS[0], *more], ruled=True)
        _text(page2, pymupdf.Rect(72, 200, 540, 300), LOREM * 3, fontsize=10)
        grid += [list(r) for r in more]
    if kind == "scanned":
        pix = page.get_pixmap(dpi=150)
        scan = pymupdf.open()
        scan.new_page(width=612, height=792).insert_image(pymupdf.Rect(0, 0, 612, 792), pixmap=pix)
        doc.close()
        doc = scan
    data: bytes = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data, grid


def make_landscape_table_pdf(*, ruled: bool, rotation: int, sideways: bool = False) -> tuple[bytes, list[list[str]]]:
    """A landscape report page stored as a portrait page with ``/Rotate`` ``rotation`` (90 or 270), as scanners
    and report generators write them: upright when displayed, its text running sideways in the page's own
    (unrotated) coordinates. Holds a title, text and one table of known cells; returns the PDF and the grid.
    ``sideways``: the same page without its ``/Rotate`` (printed sideways on a portrait page)."""
    if rotation not in (90, 270):
        raise ValueError("rotation must be 90 or 270")
    rows = [*TABLE_ROWS, ["Central", "Q3", "1010", "3.9"]]
    landscape = pymupdf.open()
    src = landscape.new_page(width=792, height=612)
    _text(src, pymupdf.Rect(72, 56, 720, 96), "Quarterly Figures by Region", fontsize=16, fontname="hebo")
    _text(src, pymupdf.Rect(72, 100, 720, 170), LOREM * 2, fontsize=10)
    bottom = _table(src, 190, rows, ruled=ruled, width=648)
    _text(src, pymupdf.Rect(72, bottom + 20, 720, bottom + 90), LOREM * 2, fontsize=10)
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.set_rotation(rotation)
    # drawn turned against the page's rotation, so that it shows upright (tests/pipeline/test_table_rules.py)
    page.show_pdf_page(page.rect * page.derotation_matrix, landscape, 0, rotate=90 if rotation == 90 else -90)
    landscape.close()
    if sideways:
        page.set_rotation(0)
    data: bytes = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data, [list(r) for r in rows]


WIDE_YEARS = [str(year) for year in range(2018, 2024)]


def make_wide_table_pdf(*, ruled: bool) -> tuple[bytes, list[list[str]]]:
    """A landscape page with a 13-column table under a two-level header: Revenue and Costs, each spanning six
    years, the stub column's heading above an empty cell; returns the PDF and the grid (a spanning cell's text in
    every slot it covers)."""
    head = ["Country", "Revenue", *[""] * 5, "Costs", *[""] * 5]
    years = ["", *WIDE_YEARS, *WIDE_YEARS]
    body = [[name, *(str(100 * i + j) for j in range(12))] for i, name in enumerate(("France", "Spain", "Italy"), 1)]
    doc = pymupdf.open()
    page = doc.new_page(width=842, height=595)
    _text(page, pymupdf.Rect(40, 40, 800, 70), "Revenue and Costs by Country", fontsize=14, fontname="hebo")
    _text(page, pymupdf.Rect(40, 72, 800, 130), LOREM, fontsize=10)
    bottom = _table(page, 140, [head, years, *body], ruled=ruled, spans={(0, 1): 6, (0, 7): 6}, left=40, width=760)
    _text(page, pymupdf.Rect(40, bottom + 20, 800, bottom + 120), LOREM * 2, fontsize=10)
    data: bytes = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    grid = [["Country", *["Revenue"] * 6, *["Costs"] * 6], years, *body]
    return data, grid


def make_flate_bomb_pdf(side: int = 20_000, *, pages: int = 2) -> bytes:
    """Pages that each draw one ``side`` × ``side`` grey image whose Flate stream inflates ~1000:1 (20,000² is
    400 MB decoded from ~400 KB, exactly at the default ``limits.max_image_pixels``): the decompression bomb."""
    import zlib

    packer = zlib.compressobj(9)
    chunk = bytes(side * 500)
    body = b"".join(packer.compress(chunk) for _ in range(side // 500)) + packer.flush()
    doc = pymupdf.open()
    for _ in range(pages):
        page = doc.new_page(width=612, height=792)
        image = doc.get_new_xref()
        doc.update_object(
            image,
            f"<</Type/XObject/Subtype/Image/Width {side}/Height {side}/ColorSpace/DeviceGray"
            f"/BitsPerComponent 8/Filter/FlateDecode/Length {len(body)}>>",
        )
        doc.update_stream(image, body, compress=False)
        doc.xref_set_key(page.xref, "Resources", f"<</XObject<</Im1 {image} 0 R>>>>")
        contents = doc.get_new_xref()
        doc.update_object(contents, "<<>>")
        doc.update_stream(contents, b"q 612 0 0 792 0 0 cm /Im1 Do Q")
        doc.xref_set_key(page.xref, "Contents", f"{contents} 0 R")
    data: bytes = doc.tobytes()
    doc.close()
    return data


def make_turned_scan_pdf(angle: int, source: bytes | None = None) -> bytes:
    """A one-page scan whose content is turned ``angle`` degrees clockwise (0, 90, 180, 270) and no ``/Rotate``, as
    a scanner fed sideways makes it: page 1 of ``source`` (default: the sample's digital page) rendered at
    150 dpi, the image turned, on a page of the turned image's size."""
    import io

    from PIL import Image

    src = pymupdf.open(stream=source or make_sample_pdf(), filetype="pdf")
    pix = src[0].get_pixmap(dpi=150)
    src.close()
    turned = Image.frombytes("RGB", (pix.width, pix.height), pix.samples).rotate(-angle, expand=True)
    png = io.BytesIO()
    turned.save(png, format="PNG")
    doc = pymupdf.open()
    page = doc.new_page(width=turned.width * 72 / 150, height=turned.height * 72 / 150)
    page.insert_image(page.rect, stream=png.getvalue())
    data: bytes = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data


BANNER_HEADLINE = "QUARTERLY RESULTS 2026"


def _text_picture(text: str, width: float, height: float, *, dpi: int = 150, fontsize: float = 28) -> pymupdf.Pixmap:
    """``text`` drawn on a coloured band and rasterised: a picture holding words that no text layer has."""
    scratch = pymupdf.open()
    page = scratch.new_page(width=width, height=height)
    page.draw_rect(page.rect, color=None, fill=(0.12, 0.23, 0.45))
    _text(
        page,
        pymupdf.Rect(8, (height - fontsize * 1.3) / 2, width - 8, height),
        text,
        fontsize=fontsize,
        fontname="hebo",
        color=(1, 1, 1),
        align=1,
    )
    pix = page.get_pixmap(dpi=dpi)
    scratch.close()
    return pix


def make_banner_pdf(headline: str = BANNER_HEADLINE) -> bytes:
    """A born-digital page whose headline is a picture (a banner image: its words are in no text layer) above
    paragraphs of real text, as slide titles, logos with slogans and web banners are."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_image(pymupdf.Rect(72, 56, 540, 136), pixmap=_text_picture(headline, 468, 80))
    for p in range(5):
        top = 160 + p * 110
        _text(page, pymupdf.Rect(72, top, 540, top + 100), f"Paragraph {p + 1}. " + LOREM * 3, fontsize=10)
    data: bytes = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data


def make_many_pictures_pdf(count: int, *, word: str = "LABEL") -> bytes:
    """One born-digital page with ``count`` pictures of a word each (a grid of 150x60 pt tiles) and a paragraph:
    a page whose pictures must not each be OCRed."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    _text(page, pymupdf.Rect(72, 40, 540, 100), "Paragraph. " + LOREM, fontsize=10)
    tile = _text_picture(word, 150, 60, fontsize=18)
    for i in range(count):
        row, col = divmod(i, 3)
        left, top = 72 + col * 160, 110 + row * 66
        page.insert_image(pymupdf.Rect(left, top, left + 150, top + 60), pixmap=tile)
    data: bytes = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data


WRONG_OCR_WORDS = "Lorem wrongly recognised words of an earlier OCR pass"


def make_ocr_layer_scan_pdf(words: str = WRONG_OCR_WORDS, *, under_image: bool = False) -> bytes:
    """A scan (the sample's digital page at 150 dpi) carrying a text layer that does not match it, as an earlier, bad
    OCR leaves one: invisible text laid over the image (render mode 3: there for extraction, never drawn), or, with
    ``under_image``, visible text drawn first and the scan image painted over it (as ``horribleocr.pdf`` has it)."""
    src = pymupdf.open(stream=make_sample_pdf(), filetype="pdf")
    pix = src[0].get_pixmap(dpi=150)
    src.close()
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    if not under_image:
        page.insert_image(page.rect, pixmap=pix)
    for row in range(24):
        page.insert_text((72, 80 + row * 28), f"{words} {row + 1}", fontsize=11, render_mode=0 if under_image else 3)
    if under_image:
        page.insert_image(page.rect, pixmap=pix)  # drawn last: on top of the text
    data: bytes = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data


def make_page_tree_cycle_pdf() -> bytes:
    """Two pages by the page tree's count; its second kid is the tree itself (a cycle): page 1 reads, page 2
    cannot be loaded."""
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=200)
    _text(page, pymupdf.Rect(20, 20, 280, 60), "The first page is fine.")
    pages = int(doc.xref_get_key(doc.pdf_catalog(), "Pages")[1].split()[0])
    doc.xref_set_key(pages, "Kids", f"[{page.xref} 0 R {pages} 0 R]")
    doc.xref_set_key(pages, "Count", "2")
    data: bytes = doc.tobytes()
    doc.close()
    return data
