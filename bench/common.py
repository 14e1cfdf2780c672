"""Shared helpers for the benchmarks: corpus location, timing, result printing."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = Path(os.environ.get("DOCGRAPH_CORPUS", ROOT.parent / "shared" / "corpus" / "public"))


def report(name: str, rows: dict[str, object]) -> None:
    print(f"\n== {name}")
    for key, value in rows.items():
        print(f"  {key:<48} {value}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(rows, indent=2, default=str))
