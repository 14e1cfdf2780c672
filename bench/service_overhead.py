"""Service overhead: pages/s through POST /v1/convert at concurrency 8 vs the in-process pipeline.

Same backends (YOLO layout on CPU, RapidOCR), same PDFs, same concurrency, one run. Target ratio ≥ 0.8.
    python bench/service_overhead.py [--docs 16] [--pages 4] [--repeat 2]
    python bench/service_overhead.py --docs 64 --pages 1; python bench/service_overhead.py --docs 3 --pages 50
    python bench/service_overhead.py --docs 3 --pages 50 --pages-in-flight 16   # the old window, for comparison
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
from common import report

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


def _role(proc: psutil.Process) -> str | None:
    line = " ".join(proc.cmdline())
    if "pipeline.pdfworker" in line:
        return "PyMuPDF workers (of the ingress)"
    for role in ("LayoutDeployment", "OcrDeployment", "DocumentIngress", "ProxyActor", "ServeController"):
        if role in line:
            return role
    if proc.pid == os.getpid():
        return "client (this benchmark)"
    if "ray" in line:
        return "Ray system (raylet, GCS, agents)"
    return None


def cpu_by_role(fn: Callable[[], float]) -> tuple[float, dict[str, float]]:
    """Run ``fn`` and return its result with the CPU each role used meanwhile (cores: 1.0 = one core busy)."""
    procs: dict[str, list[tuple[psutil.Process, float]]] = {}
    for proc in psutil.process_iter():
        try:
            if (role := _role(proc)) is not None:
                times = proc.cpu_times()
                procs.setdefault(role, []).append((proc, times.user + times.system))
        except psutil.Error:
            continue
    t0 = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - t0
    used: dict[str, float] = {}
    for role, entries in procs.items():
        for proc, before in entries:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            used[role] = used.get(role, 0.0) + (times.user + times.system - before) / elapsed
    return result, {role: round(cores, 2) for role, cores in sorted(used.items(), key=lambda kv: -kv[1])}


def run_local(docs: list[bytes], concurrency: int, limits: Limits) -> float:
    converter = LocalConverter(limits=limits)

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
