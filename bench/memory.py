"""Peak memory of a 117-page conversion (GeoTopo-komprimiert.pdf) vs a 5-page one: should be nearly flat.

Each conversion runs in a fresh process (in-process pipeline, layout model on every page, so every page
is rendered); peak RSS is the process's ru_maxrss.
    python bench/memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys

from common import CORPUS, ROOT, report

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from docgraph.local import LocalConverter
from pipeline import ConvertOptions
c = LocalConverter()
data = open(sys.argv[1], 'rb').read()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
g = c.convert_sync(data, ConvertOptions(pages=sys.argv[2] or None, ocr=sys.argv[3]))
print(json.dumps({{"pages": len(g.pages), "seconds": time.perf_counter() - t0,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "loaded_mib": base / 1024}}))
"""


def measure(path: str, pages: str, ocr: str = "auto") -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT)), path, pages, ocr],
        capture_output=True,
        text=True,
        check=True,
    )
    measured: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return measured


def main() -> None:
    geo = str(CORPUS / "GeoTopo-komprimiert.pdf")
    small = measure(geo, "1-5")
    large = measure(geo, "")
    never = measure(geo, "", "never")  # without OCR of the thesis's pictures (text in pictures, issue 15)
    report(
        "memory",
        {
            "5 pages: peak RSS MiB (models loaded MiB)": f"{small['peak_mib']:.0f} ({small['loaded_mib']:.0f})",
            "117 pages: peak RSS MiB (models loaded MiB)": f"{large['peak_mib']:.0f} ({large['loaded_mib']:.0f})",
            "117 pages: seconds": round(large["seconds"], 1),
            "ratio peak 117 / 5 pages": round(large["peak_mib"] / small["peak_mib"], 3),
            "117 pages, ocr=never: peak RSS MiB, seconds": f"{never['peak_mib']:.0f}, {never['seconds']:.1f}",
        },
    )


if __name__ == "__main__":
    main()
