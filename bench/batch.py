"""docgraph batch vs docgraph loadtest: pages/s against the same service on the same documents, in one run; and the
memory of a batch's processes across many documents (RSS sampled).

1. Start the embedded service (local Ray, CPU models).
2. ``docgraph loadtest``'s engine (``docgraph.loadtest.run_load``, closed loop) sends the documents over HTTP.
3. ``docgraph batch --mode serve`` converts the same documents through the same deployments' handles.
   Reported: pages/s end to end (actor start included) and steady (from when each actor finished its first
   document to the last row), and the ratio batch / loadtest (target ≥ 1.2).
4. Memory: ``--memory-docs`` distinct one-page documents through the batch (serve mode, same service); the RSS of
   the batch's actors and of the driver sampled each second, reported at each tenth of the run, with the growth
   from the first tenth to the last (flat: ~0).

    python bench/batch.py                                   # defaults: 24 x 4-page documents, 1,000 for memory
    python bench/batch.py --docs 8 --pages 2 --memory-docs 60 --no-layout    # a smoke run (< 2 min)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from common import BATCH_ACTOR, CpuSampler, report

from docgraph.batch.index import INDEX_JSONL, read_rows
from docgraph.batch.run import BatchConfig, run_batch
from docgraph.embedded import APP_NAME, EmbeddedService
from docgraph.loadreport import summarize
from docgraph.loadtest import LoadTestConfig, run_load
from docgraph.samples import make_text_pdf
from pipeline.options import ConvertOptions, OcrMode


def write_docs(folder: Path, count: int, pages: int, tag: str) -> list[Path]:
    """Distinct documents (a line of their own on the first page: distinct sha256, nothing resumed)."""
    import pymupdf

    base = make_text_pdf(pages)
    out = []
    for n in range(count):
        doc = pymupdf.open(stream=base, filetype="pdf")
        doc[0].insert_text((72, 30), f"{tag} document {n}")
        path = folder / f"{tag}-{n:05d}.pdf"
        path.write_bytes(doc.tobytes())
        doc.close()
        out.append(path)
    return out


def run_loadtest(url: str, files: list[Path], concurrency: int, params: dict[str, str]) -> dict[str, Any]:
    config = LoadTestConfig(
        url=url, files=files, concurrency=concurrency, max_requests=len(files), max_duration_s=1800, step_s=1800,
        warmup_s=0, settle_s=0, params=params, metrics_flush_s=0,
    )  # fmt: skip
    result: dict[str, Any] = summarize(config, asyncio.run(run_load(config)), config.limits)
    return result


def batch_figures(dest: Path, run_id: str, actors: int) -> dict[str, float]:
    """Steady pages/s: from the moment every actor finished its first document (a worker's first document pays for
    its PyMuPDF process's first open) to the last row."""
    rows = sorted((r for r in read_rows(dest / INDEX_JSONL) if r.run_id == run_id), key=lambda r: r.finished_at)
    warm = rows[min(actors, len(rows)) - 1].finished_at
    later = [r for r in rows if r.finished_at > warm]
    pages = sum(r.pages_converted for r in later)
    span = rows[-1].finished_at - warm
    return {"documents": len(rows), "pages": pages, "steady_pages_per_s": round(pages / span, 2) if span > 0 else 0}


class RssSampler:
    """The batch actors' and this process's RSS, once a second, with the index's row count at the time."""

    def __init__(self, index: Path) -> None:
        self.index = index
        self.samples: list[tuple[float, int, float, float]] = []  # (t, rows, actors MiB, driver MiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(1.0):
            actors = 0.0
            for proc in me.children(recursive=True):
                try:
                    if BATCH_ACTOR in " ".join(proc.cmdline()):
                        actors += proc.memory_info().rss
                        actors += sum(c.memory_info().rss for c in proc.children(recursive=True))  # PyMuPDF workers
                except psutil.Error:
                    continue
            rows = sum(1 for _ in self.index.open()) if self.index.is_file() else 0
            self.samples.append((time.time(), rows, actors / 2**20, me.memory_info().rss / 2**20))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def by_tenth(self, total: int) -> list[dict[str, int]]:
        out = []
        for tenth in range(1, 11):
            target = total * tenth / 10
            sample = next((s for s in self.samples if s[1] >= target and s[2] > 0), None)
            if sample is not None:
                out.append({"documents": sample[1], "actors_mib": round(sample[2]), "driver_mib": round(sample[3])})
        return out


def per_page(cpu: dict[str, float], pages: int) -> dict[str, float]:
    """CPU seconds by role as ms per page, with their total."""
    out = {role: round(1000 * seconds / pages, 1) for role, seconds in cpu.items()}
    return {"total": round(sum(out.values()), 1), **out}


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=24)
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--clients", type=int, default=4, help="loadtest: closed-loop clients")
    parser.add_argument("--concurrency", type=int, default=2, help="batch: converting actors")
    parser.add_argument("--pages-in-flight", type=int, default=16, help="batch: model calls in flight, all actors")
    parser.add_argument("--documents-per-call", type=int, default=4, help="batch: documents an actor converts at once")
    parser.add_argument("--layout", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--memory-docs", type=int, default=1000)
    args = parser.parse_args()
    options = ConvertOptions(layout=args.layout, ocr=OcrMode.NEVER)
    params = {"layout": str(args.layout).lower(), "ocr": "never"}
    with tempfile.TemporaryDirectory() as tmp, EmbeddedService() as service:
        root = Path(tmp)
        (root / "in").mkdir()
        files = write_docs(root / "in", args.docs, args.pages, "bench")
        with CpuSampler() as load_cpu:
            load = run_loadtest(service.url, files, args.clients, params)

        def batch(inputs: list[str], dest: Path) -> Any:
            config = BatchConfig(
                inputs=inputs, dest=dest, options=options, mode="serve", app_name=APP_NAME,
                concurrency=args.concurrency, num_cpus=0.5, serve_pages_in_flight=args.pages_in_flight, resume=False,
                documents_per_call=args.documents_per_call,
            )  # fmt: skip
            return run_batch(config)

        with CpuSampler() as batch_cpu:
            result = batch([str(root / "in")], root / "out")
        figures = batch_figures(root / "out", result.run_id, args.concurrency)
        rows: dict[str, object] = {
            "documents x pages": f"{args.docs} x {args.pages} (layout={args.layout}, ocr=never)",
            "loadtest pages/s (HTTP, closed loop)": f"{load['pages_per_s']} ({args.clients} clients, "
            f"{load['succeeded']}/{load['requests']} ok)",
            "batch pages/s end to end (actor start included)": result.summary["pages_per_s"],
            "batch pages/s steady (each actor's first document left out)": figures["steady_pages_per_s"],
            "ratio batch/loadtest (steady; target >= 1.2)": ratio(figures["steady_pages_per_s"], load["pages_per_s"]),
            "ratio batch/loadtest (end to end)": ratio(result.summary["pages_per_s"], load["pages_per_s"]),
            "CPU ms/page by process, loadtest": per_page(load_cpu.by_role(), args.docs * args.pages),
            "CPU ms/page by process, batch (actor start included)": per_page(
                batch_cpu.by_role(), args.docs * args.pages
            ),
        }
        if args.memory_docs:
            (root / "many").mkdir()
            write_docs(root / "many", args.memory_docs, 1, "memory")
            with RssSampler(root / "many-out" / INDEX_JSONL) as sampler:
                many = batch([str(root / "many")], root / "many-out")
            tenths = sampler.by_tenth(many.tally.documents)
            rows["memory documents"] = f"{many.tally.documents} ({many.summary['pages_per_s']} pages/s)"
            rows["memory RSS by tenth of the run"] = json.dumps(tenths)
            if len(tenths) >= 2:
                rows["memory growth first -> last tenth (actors, driver MiB)"] = (
                    tenths[-1]["actors_mib"] - tenths[0]["actors_mib"],
                    tenths[-1]["driver_mib"] - tenths[0]["driver_mib"],
                )
        rows["date"] = time.strftime("%Y-%m-%d")
        report("batch", rows)


if __name__ == "__main__":
    main()
