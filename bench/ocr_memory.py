"""Memory of heavy OCR on the real service: an 8-page scan at dpi=600 with ocr=always, read twice in a row.

The Serve replicas' resident memory (the ingress, its PyMuPDF workers, the layout and OCR replicas), summed from
/proc and sampled every 50 ms, against what they held before the first upload (after a one-page warm-up):
the growth at peak while each upload runs and what is kept 2 s after it. The second upload directly follows the
first (what the first left behind counts against it too). Issue 26's bounds: < 2.5 GB at peak, < 1 GB kept.
    python bench/ocr_memory.py [--max-concurrent 1] [--uploads 2]
"""

from __future__ import annotations

import argparse
import os
import time

import httpx
from common import report

from docgraph.embedded import EmbeddedService
from models.config import RapidOcrConfig
from serve.args import AppArgs
from tests.replica_memory import replica_rss, sampled, scans

MIB = 1 << 20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-concurrent", type=int, default=RapidOcrConfig().max_concurrent)
    parser.add_argument("--uploads", type=int, default=2)
    a = parser.parse_args()
    scan = scans(8)
    rows: dict[str, object] = {"ocr.max_concurrent": a.max_concurrent}
    rows["load average (1 min) at the start"] = round(os.getloadavg()[0], 2)
    args = AppArgs(ocr=RapidOcrConfig(max_concurrent=a.max_concurrent))
    with EmbeddedService(args) as svc, httpx.Client(base_url=svc.url, timeout=900) as client:
        warm = client.post("/v1/convert", params={"ocr": "always"}, files={"file": ("w.pdf", scans(1))})
        warm.raise_for_status()
        time.sleep(2)
        baseline = replica_rss()
        rows["replicas' RSS before, MiB"] = {role: rss // MIB for role, rss in baseline.items()}
        for n in range(1, a.uploads + 1):
            t0 = time.perf_counter()
            with sampled() as peaks:
                r = client.post(
                    "/v1/convert",
                    params={"format": "json", "dpi": "600", "ocr": "always"},
                    files={"file": ("scans.pdf", scan, "application/pdf")},
                )
            elapsed = time.perf_counter() - t0
            r.raise_for_status()
            time.sleep(2)
            after = replica_rss()
            rows[f"upload {n}: seconds"] = round(elapsed, 1)
            rows[f"upload {n}: summed growth at peak, MiB (bound < 2.5 GB = 2384)"] = (
                peaks.total - sum(baseline.values())
            ) // MIB
            rows[f"upload {n}: summed growth kept, MiB (bound < 1 GB = 953)"] = (
                sum(after.values()) - sum(baseline.values())
            ) // MIB
            rows[f"upload {n}: growth at peak / kept by role, MiB"] = {
                role: ((rss - baseline.get(role, 0)) // MIB, (after.get(role, 0) - baseline.get(role, 0)) // MIB)
                for role, rss in peaks.by_role.items()
            }
    rows["load average (1 min) at the end"] = round(os.getloadavg()[0], 2)
    report("ocr_memory", rows)


if __name__ == "__main__":
    main()
