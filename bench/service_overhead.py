"""Service overhead: pages/s through POST /v1/convert at concurrency 8 vs the in-process pipeline.

Same backends (YOLO layout on CPU, RapidOCR), same PDFs, same concurrency, one run. Target ratio ≥ 0.8.
    python bench/service_overhead.py [--docs 16] [--pages 4] [--repeat 2]
    python bench/service_overhead.py --docs 64 --pages 1; python bench/service_overhead.py --docs 3 --pages 50
    python bench/service_overhead.py --docs 3 --pages 50 --pages-in-flight 16   # the old window, for comparison
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from common import cpu_seconds_by_role, report

from docgraph.embedded import EmbeddedService
from docgraph.local import LocalConverter
from docgraph.samples import make_text_pdf
from pipeline import ConvertOptions, Limits
from serve.args import AppArgs


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


def cpu_by_role(fn: Callable[[], float]) -> tuple[float, dict[str, float]]:
    """Run ``fn`` and return its result with the CPU each role used meanwhile (cores: 1.0 = one core busy)."""
    result, elapsed, used = cpu_seconds_by_role(fn)
    return result, {role: round(seconds / elapsed, 2) for role, seconds in used.items()}


def run_local(docs: list[bytes], concurrency: int, limits: Limits) -> float:
    converter = LocalConverter(limits=limits)

    async def main() -> tuple[int, float]:
        gate = asyncio.Semaphore(concurrency)

        async def one(data: bytes) -> int:
            async with gate:
                return len((await converter.convert(data, ConvertOptions())).graph.pages)

        await one(docs[0])  # warm
        t0 = time.perf_counter()
        pages = sum(await asyncio.gather(*(one(d) for d in docs)))
        return pages, time.perf_counter() - t0

    pages, elapsed = asyncio.run(main())
    converter.close()
    return pages / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=16)
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2, help="Rounds per side; the best of each is compared.")
    parser.add_argument(
        "--pages-in-flight", type=int, default=Limits().pages_in_flight, help="Per document, both sides."
    )
    a = parser.parse_args()
    limits = Limits(pages_in_flight=a.pages_in_flight)
    docs = [make_text_pdf(a.pages) for _ in range(a.docs)]
    local = max(run_local(docs, a.concurrency, limits) for _ in range(a.repeat))
    with EmbeddedService(AppArgs(limits=limits)) as svc:
        runs = [cpu_by_role(lambda: run_service(svc.url, docs, a.concurrency)) for _ in range(a.repeat)]
    served, cpu = max(runs, key=lambda run: run[0])
    suffix = "" if a.pages_in_flight == Limits().pages_in_flight else f"_{a.pages_in_flight}inflight"
    report(
        f"service_overhead_{a.pages}p{suffix}",
        {
            "documents x pages": f"{a.docs} x {a.pages} (born-digital, layout model on every page)",
            "concurrency": a.concurrency,
            "pages in flight per document": a.pages_in_flight,
            "rounds per side (best taken)": a.repeat,
            "in-process pages/s": round(local, 2),
            "service (HTTP) pages/s": round(served, 2),
            "ratio service / in-process (target >= 0.8)": round(served / local, 3),
            "CPU cores used per process during the service run": cpu,
        },
    )


if __name__ == "__main__":
    main()
