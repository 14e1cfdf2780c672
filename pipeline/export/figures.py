"""Figure crops for the zip bundle: each figure's box cut out of its page as displayed, as PNG."""

from __future__ import annotations

import io

from PIL import Image

from pipeline.graph import DocumentGraph, Figure

MIN_SIDE_PX = 4  # a figure smaller than this on the rendered page is not cropped


def crop_figures(graph: DocumentGraph, page_no: int, page_png: bytes, zoom: float) -> dict[str, bytes]:
    """``figures/page-NNNN-K.png`` → PNG bytes for the figures of ``page_no``, cut from the displayed page
    rendered at ``zoom``; sets each cropped figure's ``image`` to its path in the bundle."""
    figures = [b for b in graph.page_blocks(page_no) if isinstance(b, Figure)]
    if not figures:
        return {}
    out: dict[str, bytes] = {}
    with Image.open(io.BytesIO(page_png)) as page:
        image = page.convert("RGB")
        for k, figure in enumerate(figures, start=1):
            box = figure.bbox
            left, top = max(0, int(box.l * zoom)), max(0, int(box.t * zoom))
            right, bottom = min(image.width, int(box.r * zoom + 0.999)), min(image.height, int(box.b * zoom + 0.999))
            if right - left < MIN_SIDE_PX or bottom - top < MIN_SIDE_PX:
                continue
            buf = io.BytesIO()
            image.crop((left, top, right, bottom)).save(buf, format="PNG")
            path = f"figures/page-{page_no:04d}-{k}.png"
            out[path] = buf.getvalue()
            figure.image = path
    return out
