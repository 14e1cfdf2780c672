"""Service overhead: pages/s through POST /v1/convert at concurrency 8 vs the in-process pipeline.

Same backends (YOLO layout on CPU, RapidOCR), same PDFs, same concurrency, one run. Target ratio ≥ 0.8.
    python bench/service_overhead.py [--docs 16] [--pages 4]
    python bench/service_overhead.py --docs 32 --pages 1; python bench/service_overhead.py --docs 3 --pages 50
"""

from __future__ import annotations

import argparse
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from common import report

from docgraph.embedded import EmbeddedService
from docgraph.local import LocalConverter
from docgraph.samples import make_text_pdf
from pipeline import ConvertOptions


def run_service(url: str, docs: list[bytes], concurrency: int) -> float:
    with httpx.Client(base_url=url, timeout=600) as client:
        def one(data: bytes) -> int:
            r = client.post("/v1/convert", files={"file": ("d.pdf", data, "application/pdf")})
            r.raise_for_status()
            return len(r.json()["pages"])

        one(docs[0])  # warm
        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            pages = sum(pool.map(one, docs))
        return pages / (time.perf_counter() - t0)


def run_local(docs: list[bytes], concurrency: int) -> float:
    converter = LocalConverter()

    async def main() -> int:
        gate = asyncio.Semaphore(concurrency)

        async def one(data: bytes) -> int:
            async with gate:
                return len((await converter.convert(data, ConvertOptions())).graph.pages)

        await one(docs[0])  # warm
        t0 = time.perf_counter()
        pages = sum(await asyncio.gather(*(one(d) for d in docs)))
        return pages, time.perf_counter() - t0  # type: ignore[return-value]

    pages, elapsed = asyncio.run(main())  # type: ignore[misc]
    converter.close()
    return pages / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=16)
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    a = parser.parse_args()
    docs = [make_text_pdf(a.pages) for _ in range(a.docs)]
    local = run_local(docs, a.concurrency)
    with EmbeddedService() as svc:
        served = run_service(svc.url, docs, a.concurrency)
    report(f"service_overhead_{a.pages}p", {
        "documents x pages": f"{a.docs} x {a.pages} (born-digital, layout model on every page)",
        "concurrency": a.concurrency,
        "in-process pages/s": round(local, 2),
        "service (HTTP) pages/s": round(served, 2),
        "ratio service / in-process (target >= 0.8)": round(served / local, 3),
    })


if __name__ == "__main__":
    main()
