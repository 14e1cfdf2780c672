"""Isolation: latency of small one-page requests alone vs beside a stream of heavy documents, in one run.

Heavy documents: 4 pages that each draw 25,000 images (over the primitive cap), and the sample's scanned page
at dpi=600 with ocr=always (a 24 Mpx render for layout and OCR). Resident memory per role before, at peak
and after (psutil, sampled every 0.2 s).
    python bench/isolation.py [--light 20] [--heavy-clients 2]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
from common import _role, report

from docgraph.embedded import EmbeddedService
from docgraph.samples import make_many_draws_pdf, make_sample_pdf, make_text_pdf
from models.config import RapidOcrConfig
from pipeline import Limits
from serve.args import AppArgs
from tests.replica_memory import sampled

MIB = 1 << 20


def rss_by_role() -> dict[str, int]:
    used: dict[str, int] = {}
    for proc in psutil.process_iter():
        try:
            if (role := _role(proc)) is not None:
                used[role] = used.get(role, 0) + proc.memory_info().rss
        except psutil.Error:
            continue
    return used


def light_latencies(client: httpx.Client, data: bytes, n: int) -> tuple[list[float], dict[str, float]]:
    """Latencies of ``n`` sequential one-page requests, and the step timings of the slowest one."""
    out, slowest = [], {}
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.post("/v1/convert", files={"file": ("light.pdf", data, "application/pdf")})
        r.raise_for_status()
        out.append(time.perf_counter() - t0)
        if out[-1] == max(out):
            slowest = {"total_s": round(out[-1], 3), **r.json()["pages"][0]["timings"]}
    return out, slowest


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--light", type=int, default=20, help="One-page requests per phase.")
    parser.add_argument("--heavy-clients", type=int, default=2, help="Clients sending heavy documents meanwhile.")
    parser.add_argument("--pdf-workers", type=int, default=Limits().pdf_workers, help="PyMuPDF worker processes.")
    parser.add_argument("--ocr-nice", type=int, default=RapidOcrConfig().nice, help="The OCR replica's CPU priority.")
    a = parser.parse_args()
    light = make_text_pdf(1)
    bomb = make_many_draws_pdf(25_000, pages=4)
    scan = make_sample_pdf()
    heavy = [
        ({"format": "json"}, bomb),
        ({"format": "json", "pages": "3", "dpi": "600", "ocr": "always"}, scan),
    ]
    args = AppArgs(limits=Limits(pdf_workers=a.pdf_workers), ocr=RapidOcrConfig(nice=a.ocr_nice))
    with (
        EmbeddedService(args, num_cpus=8) as svc,
        httpx.Client(base_url=svc.url, timeout=600) as client,
    ):
        light_latencies(client, light, 3)  # warm
        before = rss_by_role()
        alone, _ = light_latencies(client, light, a.light)
        stop, sent = threading.Event(), [0]
        statuses: dict[int, int] = {}

        def heavy_stream(k: int) -> None:
            while not stop.is_set():
                params, data = heavy[(sent[0] + k) % len(heavy)]
                r = client.post("/v1/convert", params=params, files={"file": ("heavy.pdf", data, "application/pdf")})
                sent[0] += 1
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        with ThreadPoolExecutor(a.heavy_clients) as pool, sampled(0.2, rss_by_role) as peaks:
            streams = [pool.submit(heavy_stream, k) for k in range(a.heavy_clients)]
            time.sleep(2.0)  # heavy work is in flight first
            beside, slowest = light_latencies(client, light, a.light)
            stop.set()
            for f in streams:
                f.result()
        time.sleep(3.0)
        after = rss_by_role()
        peak = {role: max(before.get(role, 0), peaks.by_role.get(role, 0)) for role in {*before, *peaks.by_role}}
    roles = sorted(set(before) | set(peak) | set(after))
    report(
        "isolation",
        {
            "light requests per phase": a.light,
            "OCR replica's nice": a.ocr_nice,
            "PyMuPDF workers": a.pdf_workers,
            "heavy clients": a.heavy_clients,
            "heavy documents sent (status: count)": f"{sent[0]} {statuses}",
            "light p50 / p95 alone (s)": f"{pct(alone, 0.5)} / {pct(alone, 0.95)}",
            "light p50 / p95 beside heavy (s)": f"{pct(beside, 0.5)} / {pct(beside, 0.95)}",
            "ratio p50 beside / alone": round(statistics.median(beside) / statistics.median(alone), 2),
            "ratio p95 beside / alone": round(pct(beside, 0.95) / max(pct(alone, 0.95), 1e-9), 2),
            "slowest light request beside heavy: step timings (s)": slowest,
            "RSS MiB before / peak / after, by role": {
                role: f"{before.get(role, 0) // MIB} / {peak.get(role, 0) // MIB} / {after.get(role, 0) // MIB}"
                for role in roles
            },
        },
    )


if __name__ == "__main__":
    main()
