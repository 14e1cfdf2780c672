"""Layout model pages/s with ONNX Runtime's thread spinning on vs off (``runtime: onnxruntime``: the setting is
ONNX Runtime's), alone and beside a busy renderer.

The ingress renders pages in another process while the layout replica runs the model; this measures what
spinning idle threads cost when a core is shared (one run, side by side).
    python bench/onnx_spinning.py [--pages 24]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

from common import report

from docgraph.samples import make_text_pdf
from models import build_layout_model
from models.config import LayoutRuntime, YoloLayoutConfig
from pipeline.options import Limits
from pipeline.page import PageImage
from pipeline.pdf import open_document


def render_forever(stop: mp.synchronize.Event) -> None:
    doc = open_document(make_text_pdf(4), limits=Limits())
    while not stop.is_set():
        doc.render(1, 144)


def pages_per_s(spinning: bool, images: list[PageImage], busy_neighbour: bool) -> float:
    model = build_layout_model(YoloLayoutConfig(runtime=LayoutRuntime.ONNXRUNTIME, spinning=spinning))
    model.predict(images[:1])
    stop = mp.Event()
    neighbour = mp.Process(target=render_forever, args=(stop,)) if busy_neighbour else None
    if neighbour:
        neighbour.start()
        time.sleep(1)
    try:
        t0 = time.perf_counter()
        for image in images:
            model.predict([image])
        return len(images) / (time.perf_counter() - t0)
    finally:
        if neighbour:
            stop.set()
            neighbour.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=24)
    a = parser.parse_args()
    doc = open_document(make_text_pdf(a.pages), limits=Limits())
    images = [doc.render(n, 144)[0] for n in range(1, a.pages + 1)]
    rows: dict[str, object] = {"pages (144 dpi, one at a time)": a.pages}
    for neighbour in (False, True):
        where = "beside a renderer process" if neighbour else "alone"
        on = pages_per_s(True, images, neighbour)
        off = pages_per_s(False, images, neighbour)
        rows[f"{where}: spinning on / off pages/s"] = f"{on:.2f} / {off:.2f}"
        rows[f"{where}: ratio off / on"] = round(off / on, 3)
    report("onnx_spinning", rows)


if __name__ == "__main__":
    main()
