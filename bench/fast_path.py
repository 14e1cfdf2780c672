"""Fast path: born-digital PDFs on the text-layer route over HTTP, vs pymupdf4llm.to_markdown.

Reports the end-to-end latency of a 10-page born-digital PDF (target < 1 s), pages/s of both tools on the
same PDFs, and text similarity of both to ground truth where the corpus has it.
    python bench/fast_path.py
"""

from __future__ import annotations

import statistics
import time

import httpx
import pymupdf
import pymupdf4llm
from common import CORPUS, report
from pymupdf4llm.helpers.document_layout import OCRMode

from docgraph.embedded import EmbeddedService
from docgraph.samples import make_text_pdf
from tests.textsim import similarity

REPEATS = 5


def main() -> None:
    ten = make_text_pdf(10)
    docs: list[tuple[str, bytes]] = [("generated-10-pages", ten)]
    gt = CORPUS / "multi_page.gt.md"
    if gt.is_file():
        names = ("multi_page.pdf", "multicolumn.pdf", "pdftotext_two_column_issue.pdf")
        docs += [(n, (CORPUS / n).read_bytes()) for n in names]
    rows: dict[str, object] = {}
    with EmbeddedService() as svc, httpx.Client(base_url=svc.url, timeout=600) as client:

        def ours(data: bytes) -> str:
            r = client.post(
                "/v1/convert",
                params={"layout": "false", "format": "markdown"},
                files={"file": ("d.pdf", data, "application/pdf")},
            )
            r.raise_for_status()
            return r.text

        ours(ten)  # warm
        latencies = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            ours(ten)
            latencies.append(time.perf_counter() - t0)
        rows["10-page born-digital over HTTP, median s (target < 1)"] = round(statistics.median(latencies), 3)
        total_pages = 0
        t_ours = t_peer = t_peer_no_ocr = 0.0
        for name, data in docs:
            pages = pymupdf.open(stream=data, filetype="pdf").page_count
            total_pages += pages
            t0 = time.perf_counter()
            md_ours = ours(data)
            t_ours += time.perf_counter() - t0
            t0 = time.perf_counter()
            md_peer = pymupdf4llm.to_markdown(pymupdf.open(stream=data, filetype="pdf"))
            t_peer += time.perf_counter() - t0
            t0 = time.perf_counter()  # like for like: pymupdf4llm 2.0 OCRs pages it judges need it; not here
            pymupdf4llm.to_markdown(pymupdf.open(stream=data, filetype="pdf"), use_ocr=OCRMode.NEVER)
            t_peer_no_ocr += time.perf_counter() - t0
            if name == "multi_page.pdf":
                truth = gt.read_text()
                rows["multi_page.pdf similarity to GT: docgraph fast path"] = round(similarity(md_ours, truth), 3)
                rows["multi_page.pdf similarity to GT: pymupdf4llm"] = round(similarity(md_peer, truth), 3)
        rows["PDFs / pages"] = f"{len(docs)} / {total_pages}"
        rows["docgraph fast path (HTTP) pages/s"] = round(total_pages / t_ours, 1)
        rows["pymupdf4llm.to_markdown (in-process) pages/s"] = round(total_pages / t_peer, 1)
        rows["pymupdf4llm.to_markdown use_ocr=NEVER pages/s"] = round(total_pages / t_peer_no_ocr, 1)
        rows["ratio docgraph / pymupdf4llm (default)"] = round(t_peer / t_ours, 2)
        rows["ratio docgraph / pymupdf4llm (use_ocr=NEVER)"] = round(t_peer_no_ocr / t_ours, 2)
    report("fast_path", rows)


if __name__ == "__main__":
    main()
