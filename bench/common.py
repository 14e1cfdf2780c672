"""Shared helpers for the benchmarks: corpus location, timing, result printing."""

from __future__ import annotations

import json
import os
import sys
import threading
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


BATCH_ACTOR = "ConvertWorker"  # docgraph batch's converting actors (docgraph/batch)
BATCH_ROLE = f"batch actors ({BATCH_ACTOR})"


def _role(proc: psutil.Process) -> str | None:
    line = " ".join(proc.cmdline())
    if "pipeline.pdfworker" in line:
        parent = proc.parent()
        owner = "batch actors" if parent is not None and BATCH_ACTOR in " ".join(parent.cmdline()) else "ingress"
        return f"PyMuPDF workers (of the {owner})"
    named = (LAYOUT_ROLE, OCR_DEPLOYMENT, INGRESS_DEPLOYMENT, "ProxyActor", "ServeController", BATCH_ACTOR)
    role = next((name for name in named if name in line), None)
    if role is not None:
        return BATCH_ROLE if role == BATCH_ACTOR else role
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


class CpuSampler:
    """CPU seconds (user + system) by role of this process and every process it started, sampled twice a second,
    so that processes started meanwhile (a batch's actors and their PyMuPDF workers, Ray Data's tasks) count too,
    even when they exit before the end: each counts from its first sample (or from 0 when it started after the
    sampler) up to its last sample, under the role it had last."""

    def __init__(self) -> None:
        self._first: dict[int, tuple[str, float]] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._started = False

    def _sample(self) -> None:
        this = psutil.Process()
        for proc in [this, *this.children(recursive=True)]:
            try:
                role = _role(proc)
                times = proc.cpu_times()
            except psutil.Error:
                continue
            if role is None:
                continue
            used = times.user + times.system
            first = self._first[proc.pid][1] if proc.pid in self._first else (0.0 if self._started else used)
            self._first[proc.pid] = (role, first)  # its latest role: a Ray worker is "ray::IDLE" until it is an actor
            self._last[proc.pid] = used

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def __enter__(self) -> CpuSampler:
        self._sample()
        self._started = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def by_role(self) -> dict[str, float]:
        used: dict[str, float] = {}
        for pid, (role, first) in self._first.items():
            used[role] = used.get(role, 0.0) + self._last[pid] - first
        return dict(sorted(used.items(), key=lambda kv: -kv[1]))
