"""The full route (layout model on every page) over HTTP vs its own model and vs pymupdf4llm, in one run.

On the same born-digital documents (>= 100 pages; the corpus's 117-page thesis by default, a generated 106-page
PDF without the corpus), one after another:
- raw PyMuPDF: ``get_text("dict")`` and a render at the route's dpi, ms per page (one process, no pool);
- the bare layout model: the shipped ONNX through ``YoloLayoutModel``, one page at a time, on the pages rendered
  as the route renders them (``PdfDocument.render`` at ``Limits.layout_max_side``), and on plain 144-dpi renders;
  only ``predict`` is timed; measured again after the service, the ratio taken against the faster of the two;
- the service: ``POST /v1/convert`` (layout on every page, ``ocr=never`` by default: born-digital), one document
  at a time, with the CPU seconds each of its processes used; what was spent outside the layout replica, per
  page, is the route's CPU cost besides the model (ingress + PyMuPDF workers + Ray);
- the fast path (``layout=false``) over HTTP against raw ``get_text("dict")`` pages/s;
- pymupdf4llm 2.0's ``to_markdown`` (its defaults).
Targets (issue 22): service / bare >= 0.8, service / pymupdf4llm >= 2.5, CPU outside the model <= 40 ms per
page, fast path / raw get_text >= 0.5.
With ``--rect`` the layout model letterboxes each page to its smallest stride multiple (``YoloLayoutConfig.rect``,
opt-in: ~30 % less to compute, a quality trade-off) in the service and in the bare model alike; the square bare
model is reported beside it.
    python bench/full_route.py [--docs GeoTopo-komprimiert.pdf ...] [--ocr never|auto] [--skip-peer] [--rect]
"""

from __future__ import annotations

import argparse
import os
import time

import httpx
import pymupdf
from common import CLIENT_ROLE, CORPUS, LAYOUT_ROLE, cpu_seconds_by_role, report

from docgraph.embedded import EmbeddedService
from docgraph.samples import make_text_pdf
from models import build_layout_model
from models.config import YoloLayoutConfig
from pipeline.options import ConvertOptions, Limits
from pipeline.pdf import open_document
from serve.args import AppArgs, JobsConfig

DEFAULT_DOCS = ("GeoTopo-komprimiert.pdf",)
GENERATED_PAGES = 106


def documents(names: list[str]) -> list[tuple[str, bytes]]:
    if all((CORPUS / n).is_file() for n in names):
        return [(n, (CORPUS / n).read_bytes()) for n in names]
    print(f"corpus documents not found under {CORPUS}: a generated {GENERATED_PAGES}-page PDF instead")
    return [(f"generated-{GENERATED_PAGES}-pages", make_text_pdf(GENERATED_PAGES))]


def raw_pymupdf(docs: list[tuple[str, bytes]], dpi: int) -> dict[str, float]:
    """Seconds for get_text("dict") and for a render at ``dpi`` over every page (PyMuPDF alone, one process)."""
    text = render = 0.0
    for _, data in docs:
        doc = pymupdf.open(stream=data, filetype="pdf")
        for page in doc.pages():
            t0 = time.perf_counter()
            page.get_text("dict")
            t1 = time.perf_counter()
            page.get_pixmap(dpi=dpi)
            render += time.perf_counter() - t1
            text += t1 - t0
        doc.close()
    return {"text_s": text, "render_s": render}


def bare_model(
    docs: list[tuple[str, bytes]], dpi: int, max_side: int | None, *, at_once: int = 1, rect: bool = False
) -> float:
    """Seconds of ``predict`` for every page, one page a call, rendered at ``dpi`` (no larger than ``max_side``:
    as the route renders a page only the layout model reads). ``at_once`` 1: one call at a time on every core
    (the runtime's default threads), the reference; 2: two single-threaded calls at once, as the deployment
    runs them."""
    from concurrent.futures import ThreadPoolExecutor

    model = build_layout_model(YoloLayoutConfig(threads=0 if at_once == 1 else 1, rect=rect))
    limits = Limits()
    images = []
    for _, data in docs:
        doc = open_document(data, limits=limits)
        images += [doc.render(page_no, dpi, max_side)[0] for page_no in range(1, doc.page_count + 1)]
        doc.close()
    model.predict(images[:1])  # warm
    with ThreadPoolExecutor(at_once) as pool:
        t0 = time.perf_counter()
        for _ in pool.map(lambda image: model.predict([image]), images):
            pass
        return time.perf_counter() - t0


def peer(docs: list[tuple[str, bytes]]) -> float:
    import pymupdf4llm

    t0 = time.perf_counter()
    for _, data in docs:
        pymupdf4llm.to_markdown(pymupdf.open(stream=data, filetype="pdf"))
    return time.perf_counter() - t0


def over_http(url: str, docs: list[tuple[str, bytes]], params: dict[str, str]) -> list[dict[str, float]]:
    """Each document through POST /v1/convert, one at a time; every page's step timings."""
    timings: list[dict[str, float]] = []
    with httpx.Client(base_url=url, timeout=1800) as client:
        for name, data in docs:
            r = client.post("/v1/convert", params=params, files={"file": (name, data, "application/pdf")})
            r.raise_for_status()
            pages = r.json()["pages"]
            failed = [p["page_no"] for p in pages if p["status"] == "failed"]
            assert not failed, f"{name}: pages failed: {failed[:10]}"
            timings += [p["timings"] for p in pages]
    return timings


def bare_rows(
    rows: dict[str, object], docs: list[tuple[str, bytes]], dpi: int, side: int, rect: bool
) -> tuple[float, float]:
    """The bare layout model's rows; returns its pages/s one call at a time and two calls at once."""
    pages = sum(pymupdf.open(stream=data, filetype="pdf").page_count for _, data in docs)
    bare = pages / bare_model(docs, dpi, side, rect=rect)
    shape = "its rectangle (--rect)" if rect else "the square"
    rows[f"bare layout model (predict, one page a call, rendered as the route does: <= {side} px, {shape}) pages/s"] = (
        round(bare, 2)
    )
    if rect:
        rows["bare layout model, the square (the export's input), pages/s"] = round(
            pages / bare_model(docs, dpi, side), 2
        )
    rows[f"bare layout model on {dpi}-dpi renders (bench/onnx_spinning.py's input) pages/s"] = round(
        pages / bare_model(docs, dpi, None), 2
    )
    bare_two = pages / bare_model(docs, dpi, side, at_once=2, rect=rect)
    rows["bare layout model, two single-threaded calls at once (as the deployment runs it) pages/s"] = round(
        bare_two, 2
    )
    return bare, bare_two


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", nargs="+", default=list(DEFAULT_DOCS), help="Corpus file names.")
    parser.add_argument("--ocr", default="never", choices=("never", "auto"))
    parser.add_argument("--repeat", type=int, default=1, help="Service runs of the full route (the best is kept).")
    parser.add_argument("--skip-peer", action="store_true", help="Leave pymupdf4llm out (it takes the longest).")
    parser.add_argument("--rect", action="store_true", help="The layout model letterboxes to the page's rectangle.")
    a = parser.parse_args()
    docs = documents(a.docs)
    dpi = ConvertOptions().dpi
    pages = sum(pymupdf.open(stream=data, filetype="pdf").page_count for _, data in docs)
    rows: dict[str, object] = {"documents": [n for n, _ in docs], "pages": pages, "dpi": dpi, "ocr": a.ocr}
    rows["load average (1 min) at the start (noisy above ~1.5)"] = round(os.getloadavg()[0], 2)

    raw = raw_pymupdf(docs, dpi)
    rows["raw PyMuPDF get_text('dict') ms/page"] = round(1000 * raw["text_s"] / pages, 2)
    rows[f"raw PyMuPDF render at {dpi} dpi ms/page"] = round(1000 * raw["render_s"] / pages, 2)
    raw_text_rate = pages / raw["text_s"]
    rows["raw PyMuPDF get_text('dict') pages/s"] = round(raw_text_rate, 1)

    side = Limits().layout_max_side
    bare, bare_two = bare_rows(rows, docs, dpi, side, a.rect)

    args = AppArgs(
        jobs=JobsConfig(sync_max_pages=max(pages, JobsConfig().sync_max_pages)), layout=YoloLayoutConfig(rect=a.rect)
    )
    with EmbeddedService(args) as svc:
        over_http(svc.url, [("warm.pdf", make_text_pdf(2))], {"ocr": a.ocr})  # models warm, workers started
        runs = [cpu_seconds_by_role(lambda: over_http(svc.url, docs, {"ocr": a.ocr})) for _ in range(max(1, a.repeat))]
        steps, elapsed, cpu = min(runs, key=lambda run: run[1])
        fast_elapsed = min(
            cpu_seconds_by_role(lambda: over_http(svc.url, docs, {"ocr": a.ocr, "layout": "false"}))[1]
            for _ in range(2)
        )
    # the bare model again after the service: this machine's speed drifts (±15 % between runs minutes apart), so
    # the ratio is taken against the faster of the two measurements, the one least in the service's favour
    bare_after = pages / bare_model(docs, dpi, side, rect=a.rect)
    rows["bare layout model again after the service (the ratio uses the faster) pages/s"] = round(bare_after, 2)
    bare = max(bare, bare_after)
    served = pages / elapsed
    rows["service full route (HTTP) s"] = round(elapsed, 2)
    rows["service full route (HTTP) pages/s"] = round(served, 2)
    rows["ratio service / bare model (target >= 0.8)"] = round(served / bare, 3)
    rows["ratio service / bare model run two calls at once"] = round(served / bare_two, 3)
    outside = {role: s for role, s in cpu.items() if role not in (LAYOUT_ROLE, CLIENT_ROLE)}
    rows["CPU s per process during the full route"] = {role: round(s, 2) for role, s in cpu.items()}
    rows["CPU ms/page outside the layout replica (target <= 40)"] = round(1000 * sum(outside.values()) / pages, 1)
    rows["CPU ms/page of the layout replica"] = round(1000 * cpu.get(LAYOUT_ROLE, 0.0) / pages, 1)
    for step in ("text_s", "render_s", "layout_s", "merge_s", "tables_s"):
        rows[f"page timings: {step} sum (waits included)"] = round(sum(t.get(step, 0.0) for t in steps), 1)
    fast = pages / fast_elapsed
    rows["fast path layout=false (HTTP) pages/s, best of 2"] = round(fast, 1)
    rows["ratio fast path / raw get_text('dict') (target >= 0.5)"] = round(fast / raw_text_rate, 3)

    if not a.skip_peer:
        peer_rate = pages / peer(docs)
        rows["pymupdf4llm.to_markdown (defaults) pages/s"] = round(peer_rate, 2)
        rows["ratio service / pymupdf4llm (target >= 2.5)"] = round(served / peer_rate, 2)
    rows["load average (1 min) at the end"] = round(os.getloadavg()[0], 2)
    report("full_route", rows)


if __name__ == "__main__":
    main()
