"""Hard pages of the corpus read by docgraph (CPU default, in-process) and by pymupdf4llm, side by side in one run:
text similarity of each one's Markdown to the page's truth, and seconds per document.

Pages (issue 15): an archive scan whose bad OCR text lies under the scan image (horribleocr.pdf), the scanned
letter of a mixed document (gen_mixed_digital_scanned.pdf page 2), Arabic in presentation forms
(ArabicCIDTrueType.pdf), Arabic with a broken text layer against docling's snapshot (right_to_left_02.pdf), and
Japanese set in vertical columns (vertical.pdf page 1). Truths: the project's transcriptions in
tests/corpus/truth/, the corpus's own .gt.md, or the words on the page (the last two).
pymupdf4llm 2.0 runs with its defaults (its layout model, and RapidOCR for pages it judges need OCR).

    python bench/reading.py
"""

from __future__ import annotations

import time

import pymupdf
import pymupdf4llm
from common import CORPUS, ROOT, page_of, report

from docgraph.local import LocalConverter
from pipeline.export import MarkdownSerializer
from pipeline.options import ConvertOptions
from tests.textsim import similarity

TRUTH = ROOT / "tests" / "corpus" / "truth"
CASES = [  # (file, 1-based page or None for all, truth)
    ("horribleocr.pdf", None, (TRUTH / "horribleocr.txt").read_text()),
    ("gen_mixed_digital_scanned.pdf", 2, (TRUTH / "gen_mixed_digital_scanned.page2.txt").read_text()),
    ("ArabicCIDTrueType.pdf", None, "\n".join(["انواع الخطوط العربية"] * 4)),
    ("right_to_left_02.pdf", None, None),  # right_to_left_02.gt.md
    ("vertical.pdf", 1, "あいうえお日本語"),
]


def main() -> None:
    if not CORPUS.is_dir():
        raise SystemExit(f"corpus not found at {CORPUS} (set DOCGRAPH_CORPUS)")
    converter = LocalConverter()
    rows: dict[str, object] = {}
    try:
        converter.convert_sync(page_of((CORPUS / "horribleocr.pdf").read_bytes(), None))  # warm-up
        for name, page, given in CASES:
            data = page_of((CORPUS / name).read_bytes(), page)
            truth = given if given is not None else (CORPUS / name.replace(".pdf", ".gt.md")).read_text()
            t0 = time.perf_counter()
            ours = MarkdownSerializer().serialize(converter.convert_sync(data, ConvertOptions()))
            ours_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            with pymupdf.open(stream=data, filetype="pdf") as doc:
                theirs = pymupdf4llm.to_markdown(doc)
            theirs_s = time.perf_counter() - t0
            label = name if page is None else f"{name} p{page}"
            rows[f"{label}: similarity docgraph / pymupdf4llm"] = (
                f"{similarity(ours, truth):.3f} / {similarity(theirs, truth):.3f}"
            )
            rows[f"{label}: seconds docgraph / pymupdf4llm"] = f"{ours_s:.2f} / {theirs_s:.2f}"
    finally:
        converter.close()
    report("reading", rows)


if __name__ == "__main__":
    main()
