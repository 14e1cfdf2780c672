"""Heavy OCR uploads and the Serve replicas' resident memory, shared by the memory test and bench/ocr_memory.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil
import pymupdf

from docgraph.samples import make_text_pdf

ROLES = ("DocumentIngress", "LayoutDeployment", "OcrDeployment", "pipeline.pdfworker")
GB = 1_000_000_000


def scans(pages: int) -> bytes:
    """``pages`` letter pages of text, rasterised at 150 dpi and embedded as images (no text layer)."""
    src = pymupdf.open(stream=make_text_pdf(pages))
    out = pymupdf.open()
    for page in src.pages():
        pix = page.get_pixmap(dpi=150)
        out.new_page(width=page.rect.width, height=page.rect.height).insert_image(page.rect, pixmap=pix)
    data: bytes = out.tobytes(deflate=True)
    return data


def replica_rss() -> dict[str, int]:
    """Resident bytes of each docgraph replica (and the ingress's PyMuPDF workers) of the Ray this process
    started (its descendants: not another service on the machine), read from /proc."""
    found: dict[str, int] = {}
    for proc in psutil.Process().children(recursive=True):
        try:
            cmdline = " ".join(proc.cmdline())
            rss = proc.memory_info().rss
        except psutil.Error:
            continue
        for role in ROLES:
            if role in cmdline:
                found[role] = found.get(role, 0) + rss
    return found


@dataclass
class Peaks:
    """The largest RSS seen per role and summed over the roles, while sampling."""

    by_role: dict[str, int] = field(default_factory=dict)
    total: int = 0

    def add(self, now: dict[str, int]) -> None:
        for role, rss in now.items():
            self.by_role[role] = max(self.by_role.get(role, 0), rss)
        self.total = max(self.total, sum(now.values()))


@contextmanager
def sampled(every_s: float = 0.05, read: Callable[[], dict[str, int]] = replica_rss) -> Iterator[Peaks]:
    """Samples the replicas' RSS in a thread while the block runs; the peaks are final when it has ended."""
    peaks = Peaks()
    peaks.add(read())
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peaks.add(read())
            time.sleep(every_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peaks
    finally:
        stop.set()
        sampler.join()
        peaks.add(read())
