"""Layout model pages/s on a device, three ways side by side, and the device path's boxes against the ONNX's.

    python bench/gpu_layout.py --device cuda:0            # on a GPU machine: batches 1 / 8 / 32 / 64, fp16
    python bench/gpu_layout.py --device cpu               # here: the same code on CPU torch, small batches
    python bench/gpu_layout.py --save-pages DIR           # render the pages once to PNGs (to carry elsewhere)
    python bench/gpu_layout.py --pages-dir DIR --weights yolov8n-doclaynet.onnx --device cuda:0

Rows, each at every batch size, on the same pages (corpus pages at 144 dpi, 1684 × 1192 for A4):
- ``ultralytics``: ``YOLO(checkpoint).predict`` on a list of pages (letterbox on the CPU, NMS and copies per
  image), the checkpoint ``models.checkpoint`` rebuilt from the ONNX;
- ``device path``: ``models.layout_torch.TorchLayoutModel.predict_stream`` (pinned letterbox by CPU threads,
  one copy each way, one batched NMS, two batches in flight): what the layout replica runs on a GPU;
- ``device path, one batch at a time``: ``predict`` called in a loop (no overlap of letterbox and device);
- ``device path, pages at 1024``: the same on pages already at the model's size (rendered for it: only padded);
- ``device path, eager``: the device path with ``cuda_graphs`` off (each batch's forward launched op by op);
- ``bare forward``: the model alone on an input already on the device (the ceiling).
Agreement: the device path's boxes (batch 32) against the shipped ONNX's through ONNX Runtime on the CPU
(same class, IoU >= 0.9), both ways. Results: printed and bench/results/gpu_layout.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from common import CORPUS, report

from models.checkpoint import load_detection_model, save_checkpoint
from models.config import DEFAULT_LAYOUT_WEIGHTS, LayoutEngine, LayoutRuntime, YoloLayoutConfig, resolve_weights
from models.factory import build_layout_model
from pipeline.page import PageImage
from pipeline.protocols import LayoutResult

CORPUS_PAGES = [  # born-digital and scanned pages of the public corpus: (file, first pages)
    ("lots_of_sci_tables.pdf", 6),
    ("pdftotext_two_column_issue.pdf", 8),
    ("multicolumn.pdf", 3),
    ("normal_4pages.pdf", 4),
    ("amt_handbook_sample.pdf", 3),
    ("chinese-tables.pdf", 2),
    ("horribleocr.pdf", 2),
    ("newspaper.pdf", 1),
    ("edgar_image.pdf", 1),
    ("multi_page.pdf", 2),
]
DPI = 144


def corpus_pages(limit: int) -> list[PageImage]:
    """Corpus pages rendered as the service renders them for the layout model; generated pages without it."""
    from pipeline.options import Limits
    from pipeline.pdf import open_document

    sources = [((CORPUS / name).read_bytes(), count) for name, count in CORPUS_PAGES if (CORPUS / name).is_file()]
    if not sources:
        from docgraph.samples import make_sample_pdf, make_text_pdf

        sources = [(make_sample_pdf(), 4), (make_text_pdf(8), 8)]
    pages: list[PageImage] = []
    for data, count in sources:
        doc = open_document(data, limits=Limits())
        pages.extend(doc.render(number, dpi=DPI)[0] for number in range(1, min(doc.page_count, count) + 1))
    return pages[:limit]


def load_pages(directory: Path) -> list[PageImage]:
    pages = []
    for i, png in enumerate(sorted(directory.glob("*.png")), start=1):
        bgr = cv2.imread(str(png), cv2.IMREAD_COLOR)
        assert bgr is not None, f"not a readable image: {png}"
        rgb = np.ascontiguousarray(bgr[:, :, ::-1], dtype=np.uint8)  # 8-bit already: the dtype only types it
        pages.append(PageImage(page_no=i, pixels=rgb, scale_x=2.0, scale_y=2.0))
    return pages


def fitted(pages: list[PageImage], side: int) -> list[PageImage]:
    """The pages as if rendered for the model: longer side ``side`` px (the letterbox then only pads)."""
    out = []
    for page in pages:
        r = side / max(page.width, page.height)
        size = (max(round(page.width * r), 1), max(round(page.height * r), 1))
        resized = cv2.resize(page.pixels, size, interpolation=cv2.INTER_AREA)
        pixels = np.asarray(resized, dtype=np.uint8)  # 8-bit in, 8-bit out: the dtype only types it
        out.append(PageImage(page_no=page.page_no, pixels=pixels, scale_x=page.scale_x * r, scale_y=page.scale_y * r))
    return out


def cycle(pages: list[PageImage], batch: int, count: int) -> list[list[PageImage]]:
    return [[pages[(b * batch + i) % len(pages)] for i in range(batch)] for b in range(count)]


def timed(run: Callable[[int], int], budget_s: float, sync: Callable[[], None]) -> float:
    """Pages/s of ``run(rounds) -> pages``: a warm-up round, a timed round, then enough rounds to fill
    ``budget_s`` (measured again) when one round took less."""
    run(1)
    sync()
    rounds = 1
    while True:
        t0 = time.perf_counter()
        pages = run(rounds)
        sync()
        elapsed = time.perf_counter() - t0
        if elapsed >= budget_s * 0.5 or rounds > 1:
            return pages / elapsed
        rounds = min(max(2, round(budget_s / max(elapsed, 1e-4))), 512)


@dataclass
class Bench:
    """The models under test, built once, and the pages they run on."""

    pages: list[PageImage]
    device: str
    half: bool
    budget: float
    config: YoloLayoutConfig
    device_model: Any
    eager_model: Any
    yolo: Any
    bare: torch.nn.Module

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def measure(self, run: Callable[[int], int]) -> float:
        try:
            return timed(run, self.budget, self.sync)
        except Exception as exc:  # noqa: BLE001  # one failing row must not cost the others (a GPU lease is short)
            print(f"{run.__name__} failed: {exc!r}", flush=True)
            return float("nan")

    def batch_rows(self, batch: int) -> dict[str, object]:
        pages, config, small = self.pages, self.config, fitted(self.pages, self.config.imgsz)
        bgr = [np.ascontiguousarray(p.pixels[:, :, ::-1]) for p in pages]

        def run_ultralytics(rounds: int) -> int:
            items = [bgr[i % len(bgr)] for i in range(rounds * batch)]
            for start in range(0, len(items), batch):
                chunk = items[start : start + batch]
                for _ in self.yolo.predict(
                    chunk, imgsz=config.imgsz, half=self.half, device=self.device, batch=batch,
                    conf=config.conf, iou=config.iou, verbose=False, stream=True,
                ):  # fmt: skip
                    pass
            return len(items)

        def streamed(model: Any, source: list[PageImage]) -> Callable[[int], int]:
            def run(rounds: int) -> int:
                for _ in model.predict_stream(cycle(source, batch, rounds)):
                    pass
                return rounds * batch

            return run

        def run_serial(rounds: int) -> int:
            for one in cycle(pages, batch, rounds):
                self.device_model.predict(one)
            return rounds * batch

        dtype = torch.float16 if self.half else torch.float32
        x = torch.rand((batch, 3, config.imgsz, config.imgsz), device=self.device).to(dtype)
        if self.cuda:
            x = x.contiguous(memory_format=torch.channels_last)

        @torch.inference_mode()
        def run_bare(rounds: int) -> int:
            for _ in range(rounds):
                self.bare(x)
            return rounds * batch

        clock = self.device_model.clock
        figures = {"ultralytics": self.measure(run_ultralytics)}
        clock.reset()
        figures["device path"] = self.measure(streamed(self.device_model, pages))
        stages = {"device path (2 in flight)": clock.reset()}
        figures["device path, one batch at a time"] = self.measure(run_serial)
        stages["one batch at a time"] = clock.reset()
        figures["device path, pages at 1024"] = self.measure(streamed(self.device_model, small))
        stages["pages at 1024"] = clock.reset()
        figures["device path, eager"] = self.measure(streamed(self.eager_model, pages))
        figures["bare forward"] = self.measure(run_bare)
        print(f"batch {batch}: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()), flush=True)
        rows: dict[str, object] = {f"batch {batch:>3}: {k} pages/s": round(v, 1) for k, v in figures.items()}
        ratio = figures["device path"] / figures["bare forward"]
        rows[f"batch {batch:>3}: device path / bare forward"] = round(ratio, 3)
        for name, ms in stages.items():
            rows[f"batch {batch:>3}: {name}, ms/page by stage"] = ms
        return rows


def agreement(name: str, ours: list[LayoutResult], reference: list[LayoutResult]) -> dict[str, object]:
    hits, total = LayoutResult.matched(ours, reference)
    back, back_total = LayoutResult.matched(reference, ours)
    return {
        f"agreement: {name} boxes in the ONNX's": f"{hits}/{total} ({hits / max(total, 1):.1%})",
        f"agreement: ONNX boxes in the {name}'s": f"{back}/{back_total} ({back / max(back_total, 1):.1%})",
    }


def build(args: argparse.Namespace, pages: list[PageImage], batches: list[int]) -> tuple[Bench, dict[str, object]]:
    cuda = args.device.startswith("cuda")
    half = cuda and not args.fp32
    weights = resolve_weights(args.weights)
    rows: dict[str, object] = {
        "device": torch.cuda.get_device_name(0) if cuda else platform.processor() or "cpu",
        "torch": torch.__version__,
        "pages": f"{len(pages)} distinct, {pages[0].width}x{pages[0].height} px (first), fp16={half}",
    }
    # the ONNX on the CPU through ONNX Runtime: the boxes to agree with
    reference_config = YoloLayoutConfig(
        weights=str(weights), engine=LayoutEngine.ULTRALYTICS, runtime=LayoutRuntime.ONNXRUNTIME
    )
    reference = build_layout_model(reference_config).predict(pages)
    config = YoloLayoutConfig(
        weights=str(weights),
        device=args.device,
        half=half,
        engine=LayoutEngine.BATCHED,
        max_batch=max(batches),
        letterbox_threads=args.threads,
    )
    t0 = time.perf_counter()
    device_model: Any = build_layout_model(config)
    rows["device path: load and warm-up s"] = round(time.perf_counter() - t0, 1)
    rows["letterbox threads"] = device_model.letterbox_threads
    rows["device path: CUDA graphs"] = device_model.cuda_graphs
    eager_model: Any = build_layout_model(config.model_copy(update={"cuda_graphs": False}))
    rows |= agreement("device path", device_model.predict(pages), reference)
    rows |= agreement("device path, eager", eager_model.predict(pages), reference)

    from ultralytics.models.yolo import YOLO

    model, _ = load_detection_model(weights)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "layout.pt"
        save_checkpoint(model, checkpoint, source=weights, licence="AGPL-3.0")
        yolo = YOLO(str(checkpoint), task="detect")
    bare = load_detection_model(weights)[0].to(args.device, dtype=torch.float16 if half else torch.float32).eval()
    if cuda:
        bare = bare.to(memory_format=torch.channels_last)
    budget = args.budget_s if args.budget_s is not None else (2.0 if cuda else 0.0)
    bench = Bench(pages, args.device, half, budget, config, device_model, eager_model, yolo, bare)
    return bench, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--weights", default=DEFAULT_LAYOUT_WEIGHTS, help="the ONNX export (or a .pt)")
    parser.add_argument("--batches", default=None, help="comma-separated (default: 1,8,32,64 on CUDA, 1,4 on CPU)")
    parser.add_argument("--pages", type=int, default=32, help="distinct pages (cycled to fill batches)")
    parser.add_argument("--pages-dir", type=Path, default=None, help="PNG pages instead of rendering the corpus")
    parser.add_argument("--save-pages", type=Path, default=None, help="write the pages as PNGs and stop")
    parser.add_argument("--budget-s", type=float, default=None, help="seconds per row (default: 2 CUDA, 0 CPU)")
    parser.add_argument(
        "--threads", type=int, default=max((os.cpu_count() or 1) - 2, 1), help="letterbox threads (default: CPUs - 2)"
    )
    parser.add_argument("--fp32", action="store_true", help="no fp16 on CUDA")
    args = parser.parse_args()

    pages = load_pages(args.pages_dir) if args.pages_dir else corpus_pages(args.pages)
    if args.save_pages:
        args.save_pages.mkdir(parents=True, exist_ok=True)
        for i, page in enumerate(pages):
            cv2.imwrite(str(args.save_pages / f"page-{i:03d}.png"), page.pixels[:, :, ::-1])
        print(f"wrote {len(pages)} pages to {args.save_pages}")
        return
    batches = [int(b) for b in (args.batches or ("1,8,32,64" if args.device.startswith("cuda") else "1,4")).split(",")]
    bench, rows = build(args, pages, batches)
    for batch in batches:
        rows |= bench.batch_rows(batch)
        report("gpu_layout", rows)  # so far: a run cut short still leaves its figures
    if bench.cuda:
        rows["peak GPU memory GiB"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    report("gpu_layout", rows)


if __name__ == "__main__":
    main()
