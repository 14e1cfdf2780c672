"""DeepSeek-OCR output handling cost per page: parse the grounded markdown, map the 0-999 grid to pixels and
points, merge with layout regions — next to the cost of generating that output.

A dense page (40 blocks, ~2,600 output tokens of text and tables), written in the documented format. The
generation side is measured in the same run on the tiny checkpoint (tiny mode, CPU, 16 tokens): a lower
bound on a real page's generation, which emits ~100x more tokens.
    python bench/deepseek_parse.py [--no-engine]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np
from common import report

from models.ocr_deepseek import Generation, to_ocr_result
from pipeline.geometry import BBox
from pipeline.graph import BlockType
from pipeline.merge import OcrRegion, Region, merge_labelled_ocr
from pipeline.options import DeepSeekMode
from pipeline.page import PageImage

LABELS = ["title", "text", "text", "table", "text", "image", "image_caption", "equation", "text", "list"]


def dense_page(blocks: int = 40) -> str:
    parts = []
    for i in range(blocks):
        label = LABELS[i % len(LABELS)]
        y0 = 20 + i * 24
        box = f"[[{60 + (i % 2) * 470}, {y0 % 960}, {500 + (i % 2) * 440}, {(y0 % 960) + 22}]]"
        if label == "table":
            rows = "".join(f"<tr><td>row {r}</td><td>{r * 3.5}</td><td>x</td></tr>" for r in range(8))
            body = f"<table>{rows}</table>"
        elif label == "image":
            body = ""
        else:
            body = f"Paragraph {i} " + "words of ordinary document text " * 12
        parts.append(f"<|ref|>{label}<|/ref|><|det|>{box}<|/det|>\n{body}\n")
    return "".join(parts)


def handle(text: str, image: PageImage, regions: list[Region]) -> int:
    gen = Generation(text=text, tokens=2600, finish_reason="stop", mean_logprob=-0.05)
    result = to_ocr_result(gen, image, model="m", mode=DeepSeekMode.GUNDAM, truncated=False, attempts=1, tokens=2600)
    ocr = [
        OcrRegion(b.type, b.label, image.box_to_points(b.bbox), b.text, b.confidence, i)
        for i, b in enumerate(result.blocks)
    ]
    return len(merge_labelled_ocr(ocr, regions, model="m"))


def engine_page_seconds(pages: int = 3) -> float:
    """Seconds per page of the real engine on the tiny checkpoint (tiny mode, 16 tokens, no retry)."""
    from models.ocr_deepseek_vllm import DeepSeekVllmOcr
    from models.tiny_deepseek import build_tiny_checkpoint, tiny_cpu_config
    from pipeline.protocols import OcrRequest

    with tempfile.TemporaryDirectory() as tmp:
        config = tiny_cpu_config(build_tiny_checkpoint(Path(tmp)), max_tokens=16, retry_truncated=False)
        model = DeepSeekVllmOcr(config)
        rng = np.random.default_rng(0)

        async def run() -> float:
            await model.recognize(PageImage(0, np.full((1100, 850, 3), 255, np.uint8), 1.0, 1.0), OcrRequest())
            t0 = time.perf_counter()
            for i in range(pages):
                pixels = rng.integers(0, 255, (1100, 850, 3), dtype=np.uint8)
                await model.recognize(PageImage(i + 1, pixels, 1.0, 1.0), OcrRequest())
            return (time.perf_counter() - t0) / pages

        try:
            return asyncio.run(run())
        finally:
            model.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-engine", action="store_true", help="skip the generation side")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    text = dense_page()
    image = PageImage(1, np.zeros((1584, 1224, 3), np.uint8), 2.0, 2.0)
    # the layout model found the same blocks, a point or two off (what a real merge sees)
    first = to_ocr_result(Generation(text, 1, "stop"), image, model="m", mode=DeepSeekMode.GUNDAM, truncated=False,
                          attempts=1, tokens=1)  # fmt: skip
    regions = []
    for i, b in enumerate(first.blocks):
        p = image.box_to_points(b.bbox)
        box = BBox(l=p.l + 1.5, t=p.t - 1.0, r=p.r - 1.0, b=p.b + 1.5)
        regions.append(Region(b.type or BlockType.TEXT, "x", box, 0.6 + 0.01 * (i % 30), "yolo"))
    handle(text, image, regions)
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        blocks = handle(text, image, regions)
    per_page = (time.perf_counter() - t0) / args.repeat
    rows: dict[str, object] = {
        "output chars per page": len(text),
        "blocks per page": blocks,
        "parse + grid→points + merge, ms/page": round(per_page * 1000, 2),
    }
    if not args.no_engine:
        gen = engine_page_seconds()
        rows["tiny engine, 16 tokens, s/page (lower bound)"] = round(gen, 2)
        rows["handling / generation"] = f"{per_page / gen:.4%}"
    report("deepseek_parse", rows)


if __name__ == "__main__":
    main()
