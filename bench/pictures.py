"""Text in pictures on digital pages: what OCR of picture regions costs per page, next to no OCR and to OCR of the
whole page, in-process on the CPU default (YOLO layout + RapidOCR), one run, the same pages for each.

Pages: a born-digital page with a banner headline (an image), a page of twelve word tiles (more pictures than the
per-page bound), and the sample's figure page (a picture with no text). For each: the median seconds per page over
5 conversions after a warm-up, with ocr=never (text layer + layout), ocr=auto (+ picture regions) and ocr=always
(+ the whole page OCRed), and how many picture regions auto read; then the banner page without the layout model
(layout=false: the fast path), with ocr=never and ocr=auto (its picture read).

    python bench/pictures.py
"""

from __future__ import annotations

import statistics
import time

from common import page_of, report

from docgraph.local import LocalConverter
from docgraph.samples import BANNER_HEADLINE, make_banner_pdf, make_many_pictures_pdf, make_sample_pdf
from pipeline.graph import Source
from pipeline.options import ConvertOptions, OcrMode

RUNS = 5


def main() -> None:
    pages = {
        "banner page": make_banner_pdf(),
        "12 word tiles": make_many_pictures_pdf(12),
        "sample figure page": page_of(make_sample_pdf(), 2),
    }
    converter = LocalConverter()
    rows: dict[str, object] = {}
    try:
        for name, data in pages.items():
            for mode in (OcrMode.NEVER, OcrMode.AUTO, OcrMode.ALWAYS):
                options = ConvertOptions(ocr=mode)
                graph = converter.convert_sync(data, options)  # warm-up (and the graph that is reported)
                times = []
                for _ in range(RUNS):
                    t0 = time.perf_counter()
                    converter.convert_sync(data, options)
                    times.append(time.perf_counter() - t0)
                rows[f"{name}, ocr={mode.value}: s/page (median of {RUNS})"] = round(statistics.median(times), 3)
                if mode is OcrMode.AUTO:
                    read = [b for b in graph.blocks if b.source is Source.OCR]
                    rows[f"{name}, ocr=auto: picture regions read"] = len(read)
                    if name == "banner page":
                        rows["banner headline in the graph (ocr=auto)"] = any(BANNER_HEADLINE in b.text for b in read)
        # the fast path (no layout model): the banner page on the text layer alone, and with its picture read
        for mode in (OcrMode.NEVER, OcrMode.AUTO):
            options = ConvertOptions(layout=False, ocr=mode)
            converter.convert_sync(pages["banner page"], options)
            times = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                converter.convert_sync(pages["banner page"], options)
                times.append(time.perf_counter() - t0)
            rows[f"banner page, layout=false, ocr={mode.value}: s/page (median of {RUNS})"] = round(
                statistics.median(times), 3
            )
    finally:
        converter.close()
    report("pictures", rows)


if __name__ == "__main__":
    main()
