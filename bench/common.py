"""Shared helpers for the benchmarks: corpus location, timing, result printing."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psutil

from serve.names import INGRESS_DEPLOYMENT, LAYOUT_DEPLOYMENT, OCR_DEPLOYMENT

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = Path(os.environ.get("DOCGRAPH_CORPUS", ROOT.parent / "shared" / "corpus" / "public"))
T = TypeVar("T")
LAYOUT_ROLE = LAYOUT_DEPLOYMENT
CLIENT_ROLE = "client (this benchmark)"


def page_of(data: bytes, number: int | None) -> bytes:
    """One page (1-based) of a PDF as a PDF of its own; the whole PDF when ``number`` is None."""
    if number is None:
        return data
    import pymupdf

    doc = pymupdf.open(stream=data, filetype="pdf")
    doc.select([number - 1])
    out: bytes = doc.tobytes()
    doc.close()
    return out


def report(name: str, rows: dict[str, object]) -> None:
    print(f"\n== {name}")
    for key, value in rows.items():
        print(f"  {key:<48} {value}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(rows, indent=2, default=str))


def _role(proc: psutil.Process) -> str | None:
    line = " ".join(proc.cmdline())
    if "pipeline.pdfworker" in line:
        return "PyMuPDF workers (of the ingress)"
    for role in (LAYOUT_ROLE, OCR_DEPLOYMENT, INGRESS_DEPLOYMENT, "ProxyActor", "ServeController"):
        if role in line:
            return role
    if proc.pid == os.getpid():
        return CLIENT_ROLE
    if "ray" in line:
        return "Ray system (raylet, GCS, agents)"
    return None


def cpu_seconds_by_role(fn: Callable[[], T]) -> tuple[T, float, dict[str, float]]:
    """Run ``fn``; its result, the seconds it took, and the CPU seconds (user + system) each role of the service's
    processes used meanwhile: this process and those it started (the Ray it started, its replicas and their PyMuPDF
    workers); processes started meanwhile, e.g. a replaced PyMuPDF worker, are not counted."""
    procs: list[tuple[str, psutil.Process, float]] = []
    this = psutil.Process()
    for proc in [this, *this.children(recursive=True)]:  # this run's Ray, not another on the machine
        try:
            if (role := _role(proc)) is not None:
                times = proc.cpu_times()
                procs.append((role, proc, times.user + times.system))
        except psutil.Error:
            continue
    t0 = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - t0
    used: dict[str, float] = {}
    for role, proc, before in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        used[role] = used.get(role, 0.0) + times.user + times.system - before
    return result, elapsed, dict(sorted(used.items(), key=lambda kv: -kv[1]))
