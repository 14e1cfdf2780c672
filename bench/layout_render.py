"""The page image the layout model reads: drawn at twice its size, smoothed and halved (the route) vs drawn at the
dpi and scaled by MuPDF's filter (the route before), on the corpus's digital pages, in one run.

For each page: the time of each render (draw + resample, one process), and the layout model's regions on each
image. Agreement: the share of regions found by both with the same class and IoU >= 0.9 (of the larger count).
As a yardstick for the model's own jitter under a resampling change, Pillow's bilinear filter of the same dpi
render is compared with MuPDF's scale the same way.
    python bench/layout_render.py [--max-pages 40] [--dpi 144]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pymupdf
from common import CORPUS, ROOT, report
from PIL import Image

from models import build_layout_model
from models.config import YoloLayoutConfig
from pipeline.errors import DocgraphError
from pipeline.geometry import BBox
from pipeline.options import Limits
from pipeline.page import PageImage
from pipeline.pdf import MUPDF_ERRORS, open_document, scaled_pixmap
from pipeline.protocols import LayoutRegion


def iou(a: BBox, b: BBox) -> float:
    w, h = min(a.r, b.r) - max(a.l, b.l), min(a.b, b.b) - max(a.t, b.t)
    inter = max(w, 0.0) * max(h, 0.0)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def matched(ours: list[LayoutRegion], theirs: list[LayoutRegion]) -> tuple[int, int]:
    """(regions matched one to one with the same label and IoU >= 0.9, the larger of the two counts)."""
    used: set[int] = set()
    for a in ours:
        for j, b in enumerate(theirs):
            if j not in used and a.label == b.label and iou(a.bbox, b.bbox) >= 0.9:
                used.add(j)
                break
    return len(used), max(len(ours), len(theirs))


def scaled_by_mupdf(page: pymupdf.Page, zoom: float, max_side: int) -> np.ndarray:
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom).prerotate(-page.rotation), alpha=False)
    if pix.n != 3:
        pix = pymupdf.Pixmap(pymupdf.csRGB, pix)
    fit = max_side / max(pix.width, pix.height)
    small = scaled_pixmap(pix, round(pix.width * fit), round(pix.height * fit))
    return np.frombuffer(small.samples, dtype=np.uint8).reshape(small.height, small.width, 3).copy()


def pillow_bilinear(page: pymupdf.Page, zoom: float, size: tuple[int, int]) -> np.ndarray:
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom).prerotate(-page.rotation), alpha=False)
    if pix.n != 3:
        pix = pymupdf.Pixmap(pymupdf.csRGB, pix)
    image = Image.frombuffer("RGB", (pix.width, pix.height), pix.samples_mv, "raw", "RGB", 0, 1)
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR)).copy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-pages", type=int, default=40, help="pages read of each document")
    parser.add_argument("--dpi", type=int, default=144)
    args = parser.parse_args()
    limits, model = Limits(), build_layout_model(YoloLayoutConfig())
    files = sorted(CORPUS.glob("*.pdf")) + sorted((ROOT / "tests" / "realdocs").rglob("*.pdf"))
    if not files:
        raise SystemExit(f"no PDFs under {CORPUS} or tests/realdocs")
    times = {"scaled": 0.0, "halved": 0.0}
    agree = {"halved": [0, 0], "pillow": [0, 0]}
    pages = 0
    for path in files:
        try:
            doc = open_document(path.read_bytes(), limits=limits)
        except DocgraphError:
            continue  # the corpus's hostile files
        raw = pymupdf.open(path)
        for no in range(min(doc.page_count, args.max_pages)):
            page, zoom = raw[no], args.dpi / 72.0
            if max(page.rect.width, page.rect.height) * zoom <= limits.layout_max_side:
                continue  # drawn at the dpi: the same image either way
            try:
                t0 = time.perf_counter()
                before = scaled_by_mupdf(page, zoom, limits.layout_max_side)
                t1 = time.perf_counter()
                now, _ = doc.render(no + 1, args.dpi, limits.layout_max_side)
                t2 = time.perf_counter()
            except MUPDF_ERRORS:
                continue  # a page MuPDF cannot draw
            except DocgraphError:
                continue
            times["scaled"] += t1 - t0
            times["halved"] += t2 - t1
            pages += 1
            height, width = before.shape[:2]
            reference = PageImage(page_no=no, pixels=before, scale_x=now.scale_x, scale_y=now.scale_y)
            resampled = pillow_bilinear(page, zoom, (width, height))
            pillow = PageImage(page_no=no, pixels=resampled, scale_x=now.scale_x, scale_y=now.scale_y)
            base, ours, yard = model.predict([reference, now, pillow])
            for name, result in (("halved", ours), ("pillow", yard)):
                same, count = matched(result.regions, base.regions)
                agree[name][0] += same
                agree[name][1] += count
        raw.close()
        doc.close()
    report(
        f"layout-model page image, {pages} pages of {len(files)} PDFs at {args.dpi} dpi",
        {
            "drawn at dpi + MuPDF's scale, ms/page": round(1e3 * times["scaled"] / max(pages, 1), 2),
            "drawn at twice the size, smoothed + halved (route), ms/page": round(
                1e3 * times["halved"] / max(pages, 1), 2
            ),
            "regions agreeing, halved vs MuPDF's scale": f"{agree['halved'][0]} / {agree['halved'][1]} "
            f"({agree['halved'][0] / max(agree['halved'][1], 1):.3f})",
            "regions agreeing, Pillow bilinear vs MuPDF's scale (the model's jitter)": f"{agree['pillow'][0]} / "
            f"{agree['pillow'][1]} ({agree['pillow'][0] / max(agree['pillow'][1], 1):.3f})",
        },
    )


if __name__ == "__main__":
    main()
