"""Shared helpers for the benchmarks: corpus location, timing, result printing."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = Path(os.environ.get("DOCGRAPH_CORPUS", ROOT.parent / "shared" / "corpus" / "public"))


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
