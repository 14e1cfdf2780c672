"""The layout model's CPU runtimes side by side: ONNX Runtime (f32) and OpenVINO (f32, bf16) on the shipped weights.

For each: pages/s as the layout deployment runs it (two single-threaded calls at once) and one call at a time on
every core, on the same pages (rendered as the route renders them: 144 dpi, longer side <= 1024 px), and how many
of ONNX Runtime's regions each finds (same label, IoU >= 0.9) and the reverse. One run, one process.
    python bench/layout_runtime.py [--docs GeoTopo-komprimiert.pdf ...] [--pages-per-doc 20]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from common import CORPUS, report

from docgraph.samples import make_sample_pdf, make_text_pdf
from models import YoloLayoutConfig, build_layout_model
from models.config import CpuPrecision, LayoutRuntime
from models.layout_openvino import native_bf16
from pipeline.options import ConvertOptions, Limits
from pipeline.page import PageImage
from pipeline.pdf import open_document
from pipeline.protocols import LayoutModel, LayoutResult

DEFAULT_DOCS = (
    "GeoTopo-komprimiert.pdf",
    "lots_of_sci_tables.pdf",
    "multicolumn.pdf",
    "amt_handbook_sample.pdf",
    "multi_page.pdf",
    "pdftotext_two_column_issue.pdf",
    "chinese-tables.pdf",
)
RUNTIMES = (
    ("onnxruntime f32", LayoutRuntime.ONNXRUNTIME, CpuPrecision.F32),
    ("openvino f32", LayoutRuntime.OPENVINO, CpuPrecision.F32),
    ("openvino bf16", LayoutRuntime.OPENVINO, CpuPrecision.BF16),
)


def pages_of(names: list[str], per_doc: int) -> list[PageImage]:
    limits, dpi = Limits(), ConvertOptions().dpi
    sources = [(CORPUS / n).read_bytes() for n in names if (CORPUS / n).is_file()]
    if not sources:
        print(f"corpus documents not found under {CORPUS}: generated pages instead")
        sources = [make_sample_pdf(), make_text_pdf(per_doc)]
    images = []
    for data in sources:
        doc = open_document(data, limits=limits)
        step = max(1, doc.page_count // per_doc)
        numbers = list(range(1, doc.page_count + 1, step))[:per_doc]
        images += [doc.render(n, dpi, limits.layout_max_side)[0] for n in numbers]
        doc.close()
    return images


def pages_per_s(model: LayoutModel, images: list[PageImage], at_once: int) -> tuple[float, list[LayoutResult]]:
    model.predict(images[:1])  # warm
    with ThreadPoolExecutor(at_once) as pool:
        t0 = time.perf_counter()
        results = [r[0] for r in pool.map(lambda image: model.predict([image]), images)]
        return len(images) / (time.perf_counter() - t0), results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", nargs="+", default=list(DEFAULT_DOCS), help="Corpus file names.")
    parser.add_argument("--pages-per-doc", type=int, default=20)
    a = parser.parse_args()
    images = pages_of(a.docs, a.pages_per_doc)
    rows: dict[str, object] = {"pages": len(images), "CPU computes bf16 natively": native_bf16()}
    reference: list[LayoutResult] = []
    for label, runtime, precision in RUNTIMES:
        two = build_layout_model(YoloLayoutConfig(runtime=runtime, cpu_precision=precision, threads=1))
        rate_two, results = pages_per_s(two, images, at_once=2)
        every = build_layout_model(YoloLayoutConfig(runtime=runtime, cpu_precision=precision, threads=0))
        rate_one, _ = pages_per_s(every, images, at_once=1)
        rows[f"{label}: pages/s, two 1-thread calls at once / one call on every core"] = (
            f"{rate_two:.2f} / {rate_one:.2f}"
        )
        if not reference:
            reference = results
            continue
        found, total = LayoutResult.matched(reference, results)
        back, ours = LayoutResult.matched(results, reference)
        rows[f"{label}: ONNX Runtime's regions it finds / its regions ONNX Runtime finds"] = (
            f"{found}/{total} ({found / total:.3f}) / {back}/{ours} ({back / ours:.3f})"
        )
    report("layout_runtime", rows)


if __name__ == "__main__":
    main()
