"""Layout detection as one batched tensor program: the GPU path (the same code runs on CPU torch, where it is
tested against the ONNX path's boxes).

ultralytics' ``predict`` letterboxes each page on the CPU, runs NMS and copies boxes back one image at a time:
on a GPU the model then waits on Python (issue 22: 57–123 pages/s on an H200 whose bare forward does ~2,300).
Here one batch is:

1. letterboxed by CPU threads (cv2, ``letterbox_threads``) straight into a pinned uint8 ``(B, S, S, 3)``
   staging buffer (``rect``: the batch's smallest stride-multiple rectangle); a page already at the model's size
   is only padded;
2. copied to the device once, normalised there (fp16 with ``half``), one forward pass;
3. one batched NMS for the whole batch (torchvision's ``batched_nms``, per image and class), the first
   ``max_det`` boxes of each image kept, one copy back to the host;
4. boxes scaled back to each page's pixels.

Two staging slots: while one batch runs on the device the next is letterboxed (double buffering). Two
``predict`` calls from two threads overlap (the Serve deployment runs two concurrent batches), and
``predict_stream`` pipelines an iterable of batches the same way. Batches run at a few fixed sizes (``BUCKETS``,
padded), each warmed up at start-up on CUDA.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import torch
import torchvision

from models.checkpoint import load_detection_model
from models.config import YoloLayoutConfig, resolve_weights
from pipeline.page import PageImage
from pipeline.protocols import LayoutResult

PAD_VALUE = 114  # ultralytics' letterbox grey
MAX_DET = 300  # boxes kept per image (ultralytics' default)
BUCKETS = (1, 2, 4, 8, 16, 32, 48, 64, 96, 128)  # batch sizes the device runs (each warmed up on CUDA)
MAX_CANDIDATES = 30_000  # boxes into NMS per batch before the score cut (ultralytics: max_nms per image)
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Letterbox:
    """Where a page sits in the square model input: resized to ``width`` × ``height`` at ``(left, top)``."""

    gain_x: float
    gain_y: float
    left: int
    top: int
    width: int
    height: int

    @classmethod
    def fit(cls, height: int, width: int, shape: tuple[int, int]) -> Letterbox:
        """ultralytics' centred ``LetterBox`` into ``shape`` (rows, columns), its rounding, so boxes match its
        ``predict``."""
        r = min(shape[0] / height, shape[1] / width)
        new_w, new_h = max(round(width * r), 1), max(round(height * r), 1)
        left, top = round((shape[1] - new_w) / 2 - 0.1), round((shape[0] - new_h) / 2 - 0.1)
        return cls(gain_x=new_w / width, gain_y=new_h / height, left=left, top=top, width=new_w, height=new_h)

    def fill(self, pixels: npt.NDArray[np.uint8], out: npt.NDArray[np.uint8]) -> None:
        """Write ``pixels`` (H, W, 3 RGB) letterboxed into ``out`` (rows, columns, 3), padding included: resized
        by OpenCV straight into its place (no temporary image; OpenCV lets go of the GIL, so the letterbox
        threads run in parallel), the borders filled around it."""
        bottom, right = self.top + self.height, self.left + self.width
        place = out[self.top : bottom, self.left : right]
        if pixels.shape[0] == self.height and pixels.shape[1] == self.width:
            place[...] = pixels
        else:
            written = cv2.resize(pixels, (self.width, self.height), dst=place, interpolation=cv2.INTER_LINEAR)
            if not np.shares_memory(written, out):  # OpenCV made its own array after all
                place[...] = written
        out[: self.top] = PAD_VALUE
        out[bottom:] = PAD_VALUE
        out[self.top : bottom, : self.left] = PAD_VALUE
        out[self.top : bottom, right:] = PAD_VALUE


@dataclass(slots=True)
class StageClock:
    """Seconds spent per stage since the last ``reset`` (each batch's wall time, summed; two batches overlap)."""

    pages: int = 0
    letterbox: float = 0.0
    device: float = 0.0
    results: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, pages: int, *, letterbox: float, device: float, results: float) -> None:
        with self._lock:
            self.pages += pages
            self.letterbox += letterbox
            self.device += device
            self.results += results

    def reset(self) -> dict[str, float]:
        """Milliseconds per page of each stage so far, and start again."""
        with self._lock:
            n = max(self.pages, 1)
            out = {"letterbox": self.letterbox, "device": self.device, "results": self.results}
            self.pages, self.letterbox, self.device, self.results = 0, 0.0, 0.0, 0.0
        return {k: round(1000 * v / n, 3) for k, v in out.items()}


def batch_shape(images: list[PageImage], size: int, rect: bool, stride: int = 32) -> tuple[int, int]:
    """The model input's (rows, columns) for a batch: ``size`` square, or with ``rect`` the smallest multiple of
    the stride that holds every page scaled to ``size`` on its longer side (ultralytics' rectangular letterbox:
    an A4 page is 1024 × 736, 28 % fewer pixels to run)."""
    if not rect:
        return size, size
    rows = cols = stride
    for img in images:
        r = size / max(img.height, img.width)
        rows = max(rows, -(-max(round(img.height * r), 1) // stride) * stride)
        cols = max(cols, -(-max(round(img.width * r), 1) // stride) * stride)
    return rows, cols


@dataclass(frozen=True, slots=True)
class _Graph:
    """A batch size's forward pass captured as a CUDA graph: replayed on the static input, written to ``output``."""

    graph: torch.cuda.CUDAGraph
    output: torch.Tensor


class _Slot:
    """One staging buffer: pinned host memory for a batch (on CUDA; plain memory on CPU)."""

    def __init__(self, batch: int, size: int, device: torch.device) -> None:
        self.host = torch.empty(batch * size * size * 3, dtype=torch.uint8, pin_memory=device.type == "cuda")

    def view(self, n: int, shape: tuple[int, int]) -> torch.Tensor:
        """The first ``n`` pages of ``shape`` (rows, columns) as one contiguous (n, rows, columns, 3) tensor."""
        return self.host[: n * shape[0] * shape[1] * 3].view(n, shape[0], shape[1], 3)


def bucket(n: int, max_batch: int) -> int:
    """The batch size a batch of ``n`` pages runs at: the next of a few fixed sizes (the rest is padding), so
    cuDNN's kernel choice is made once per size, at start-up, not on a request."""
    return next((b for b in BUCKETS if n <= b <= max_batch), max_batch)


def batched_detections(pred: torch.Tensor, *, conf: float, iou: float) -> torch.Tensor:
    """One NMS for a whole batch of raw predictions ``(B, 4 + nc, A)`` (boxes as centre x, y, w, h).

    Returns ``(N, 7)``: image index, x0, y0, x1, y1 (model input pixels), score, class; every kept box, by image,
    best first within each (``first_per_image`` keeps ``max_det`` of each on the host: a cut here would be one
    more wait on the device). Same rules as ultralytics' ``non_max_suppression`` (one label per box, classes
    suppressed separately), done for all images at once.
    """
    batch, nc = pred.shape[0], pred.shape[1] - 4
    rows = pred.transpose(1, 2)  # (B, A, 4 + nc)
    scores, classes = rows[..., 4:].max(-1)
    image_idx, anchor_idx = (scores > conf).nonzero(as_tuple=True)
    score = scores[image_idx, anchor_idx].float()
    if score.numel() > MAX_CANDIDATES * batch:
        top = score.topk(MAX_CANDIDATES * batch).indices
        image_idx, anchor_idx, score = image_idx[top], anchor_idx[top], score[top]
    cls = classes[image_idx, anchor_idx]
    xywh = rows[image_idx, anchor_idx, :4].float()
    boxes = torch.cat((xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2), 1)
    keep = torchvision.ops.batched_nms(boxes, score, image_idx * nc + cls, iou)  # best first
    keep = keep[torch.argsort(image_idx[keep], stable=True)]  # by image, best first within each
    return torch.cat((image_idx[keep, None].float(), boxes[keep], score[keep, None], cls[keep, None].float()), 1)


def first_per_image(detections: npt.NDArray[np.float32], max_det: int = MAX_DET) -> npt.NDArray[np.float32]:
    """``batched_detections``' rows (by image, best first within each) with at most ``max_det`` per image."""
    image = detections[:, 0].astype(np.int64)
    starts = np.searchsorted(image, image, side="left")  # each row's image's first row
    return detections[np.arange(len(image)) - starts < max_det]


class TorchLayoutModel:
    """Implements ``pipeline.protocols.LayoutModel`` with ``models.checkpoint``'s ultralytics model.

    Threads: ``letterbox_threads`` fill the staging buffers; one device thread runs every batch on the device
    (PyTorch keeps cuDNN's kernel choices per thread, and ultralytics' head caches its anchors per input shape:
    one thread, chosen once, at start-up, for every batch size). ``predict`` may be called from two threads at
    once: one batch is letterboxed while the other runs.
    """

    def __init__(self, config: YoloLayoutConfig) -> None:
        self.config = config
        self.weights = resolve_weights(config.weights)
        self.device = torch.device(config.device)
        model, names = load_detection_model(self.weights)
        self._names = names
        self._half = config.half and self.device.type == "cuda"
        self._dtype = torch.float16 if self._half else torch.float32
        model = model.to(self.device, dtype=self._dtype).eval()
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes (square, bucketed): cuDNN's fastest kernels
            model = model.to(memory_format=torch.channels_last)  # (B, S, S, 3) uploads are channels-last already
        self._model = model
        self._size = config.imgsz
        self._batch = config.max_batch
        self._slots: queue.Queue[_Slot] = queue.Queue()
        for _ in range(2):  # double buffering: one filled while the other runs
            self._slots.put(_Slot(self._batch, self._size, self.device))
        # The pages of a batch are letterboxed in parallel by our threads; OpenCV's own threads inside each resize
        # on top of them would oversubscribe the cores the device thread needs. Process-wide: this replica
        # resizes nothing else.
        cv2.setNumThreads(1)
        self.letterbox_threads = config.letterbox_threads or _cpu_share()
        self._pool = ThreadPoolExecutor(self.letterbox_threads, thread_name_prefix="letterbox")
        self._device = ThreadPoolExecutor(1, thread_name_prefix="layout-device")
        self._feeder = ThreadPoolExecutor(2, thread_name_prefix="layout-batch")  # predict_stream's two batches
        self.clock = StageClock()
        self.concurrent_calls = True  # one batch letterboxed while the other runs on the device
        self.name = f"yolo:{self.weights.stem}@ultralytics-{version('ultralytics')}+torch-{self.device.type}"
        self._graphs: dict[int, _Graph] = {}
        self._static = torch.empty(0, dtype=torch.uint8)
        self._anchors: list[object] = []
        if self.device.type == "cuda":
            self._warm_up()
            if config.cuda_graphs and not config.rect:
                self._device.submit(self._capture).result()

    @property
    def cuda_graphs(self) -> bool:
        """Whether batches run as CUDA graphs (captured at start-up) rather than eagerly."""
        return bool(self._graphs)

    @property
    def labels(self) -> dict[int, str]:
        return dict(self._names)

    def predict(self, images: list[PageImage]) -> list[LayoutResult]:
        results: list[LayoutResult] = []
        for start in range(0, len(images), self._batch):
            results.extend(self._predict_batch(images[start : start + self._batch]))
        return results

    def predict_stream(self, batches: Iterable[list[PageImage]]) -> Iterator[list[LayoutResult]]:
        """Batches in, their results out in order, two batches in flight (one letterboxed while one runs)."""
        return self._feeder.map(self.predict, batches)

    def _warm_up(self) -> None:
        """Run every batch size once in the device thread, so that no request waits for cuDNN to choose."""
        blank = PageImage(page_no=0, pixels=np.full((self._size, self._size, 3), 255, np.uint8), scale_x=1, scale_y=1)
        for size in BUCKETS:
            if size <= self._batch:
                self.predict([blank] * size)
        self.predict([blank] * self._batch)
        self.clock.reset()

    @torch.inference_mode()
    def _capture(self) -> None:
        """In the device thread: each batch size's normalise + forward as a CUDA graph reading one static uint8
        input. Largest first, in one memory pool: the smaller graphs reuse the larger's memory (replays are
        serial, in this thread). Each size runs once on the capture stream before its capture (lazy set-up
        stays out of the graph), which also makes ultralytics' head compute its anchors for that shape: the
        graph reads them, so they are kept alive here. A capture that fails leaves the engine eager (logged)."""
        sizes = sorted({b for b in BUCKETS if b <= self._batch} | {self._batch}, reverse=True)
        static = torch.full((self._batch, self._size, self._size, 3), PAD_VALUE, dtype=torch.uint8, device=self.device)
        head: Any = self._model.model[-1]  # type: ignore[index]  # ultralytics' Detect: its anchors per shape
        stream: Any = torch.cuda.Stream(self.device)  # type: ignore[no-untyped-call]  # torch's stub
        pool = torch.cuda.graph_pool_handle()
        graphs: dict[int, _Graph] = {}
        anchors: list[object] = []
        try:
            for size in sizes:
                stream.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(stream):
                    self._forward(static[:size])
                torch.cuda.current_stream().wait_stream(stream)
                anchors.append((head.anchors, head.strides))
                graph = torch.cuda.CUDAGraph()
                # thread_local: a CUDA call of another thread (another model loading) does not spoil this capture
                with torch.cuda.graph(graph, pool=pool, stream=stream, capture_error_mode="thread_local"):
                    output = self._forward(static[:size])
                graphs[size] = _Graph(graph, output)
            agrees = _graphs_agree(graphs, static, self._forward)
        except RuntimeError:
            log.warning("layout: CUDA graph capture failed; batches run eagerly", exc_info=True)
            torch.cuda.synchronize(self.device)
            agrees = False
        else:
            if not agrees:
                log.warning("layout: CUDA graphs do not give the eager forward's predictions; batches run eagerly")
        if agrees:
            self._graphs, self._static, self._anchors = graphs, static, anchors
        torch.cuda.empty_cache()  # the check's eager activations (or a failed capture's pool) go back to the device

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw predictions ``(B, 4 + nc, A)`` for a ``(B, rows, columns, 3)`` uint8 batch on the device."""
        out = self._model(x.permute(0, 3, 1, 2).to(self._dtype).div_(255.0))
        pred: torch.Tensor = out[0] if isinstance(out, (tuple, list)) else out
        return pred

    def _predict_batch(self, images: list[PageImage]) -> list[LayoutResult]:
        if not images:
            return []
        slot = self._slots.get()
        try:
            t0 = time.perf_counter()
            shape = batch_shape(images, self._size, self.config.rect)
            host = slot.view(bucket(len(images), self._batch), shape)  # rows past len(images): padding
            pixels: npt.NDArray[np.uint8] = host.numpy()
            boxes = [Letterbox.fit(img.height, img.width, shape) for img in images]
            list(self._pool.map(lambda i: boxes[i].fill(images[i].pixels, pixels[i]), range(len(images))))
            t1 = time.perf_counter()
            detections = self._device.submit(self._run, host, len(images)).result()
            t2 = time.perf_counter()
        finally:
            self._slots.put(slot)
        results = self._results(detections, boxes, images)
        self.clock.add(len(images), letterbox=t1 - t0, device=t2 - t1, results=time.perf_counter() - t2)
        return results

    @torch.inference_mode()
    def _run(self, host: torch.Tensor, n: int) -> npt.NDArray[np.float32]:
        """In the device thread: one copy in, the forward pass, one NMS for the batch's ``n`` pages, one copy out."""
        graph = self._graphs.get(host.shape[0]) if host.shape[1] == host.shape[2] == self._size else None
        if graph is None:
            pred = self._forward(host.to(self.device, non_blocking=True))  # one host→device copy of uint8
        else:
            self._static[: host.shape[0]].copy_(host, non_blocking=True)  # the same copy, into the graph's input
            graph.graph.replay()
            pred = graph.output  # lives in the shared pool: another replay overwrites it, so never past this call
        found = batched_detections(pred[:n], conf=self.config.conf, iou=self.config.iou)
        return first_per_image(found.cpu().numpy())  # one device→host copy

    def _results(
        self, detections: npt.NDArray[np.float32], boxes: list[Letterbox], images: list[PageImage]
    ) -> list[LayoutResult]:
        """Each page's regions in its own pixels: the letterbox undone for all boxes of the batch at once."""
        image = detections[:, 0].astype(np.int64)
        gain = np.array([(b.gain_x, b.gain_y, b.gain_x, b.gain_y) for b in boxes], np.float64).reshape(-1, 4)
        offset = np.array([(b.left, b.top, b.left, b.top) for b in boxes], np.float64).reshape(-1, 4)
        rows = detections[:, 1:].astype(np.float64)
        rows[:, :4] = (rows[:, :4] - offset[image]) / gain[image]
        bounds = np.searchsorted(image, np.arange(len(images) + 1))
        return [
            LayoutResult.from_rows(self.name, rows[bounds[i] : bounds[i + 1]], self._names, img.width, img.height)
            for i, img in enumerate(images)
        ]


def _graphs_agree(graphs: dict[int, _Graph], static: torch.Tensor, forward: Any) -> bool:
    """Start-up check: every graph, replayed on noise right after another one (the largest; the smallest before
    the largest) has used the shared pool, gives the eager forward's raw predictions (fp16 rounding allowed). A
    graph that read memory another one writes would not."""
    generator = torch.Generator(device=static.device).manual_seed(0)
    static.copy_(torch.randint(0, 256, static.shape, generator=generator, device=static.device, dtype=torch.uint8))
    sizes = sorted(graphs)
    for size in sizes:
        other = sizes[-1] if size != sizes[-1] else sizes[0]
        expected = forward(static[:size]).float()
        graphs[other].graph.replay()
        graphs[size].graph.replay()
        if not torch.allclose(graphs[size].output.float(), expected, rtol=1e-2, atol=1e-2):
            return False
    static.fill_(PAD_VALUE)
    return True


def _cpu_share() -> int:
    """CPU threads for letterboxing: the replica's share (Ray sets OMP_NUM_THREADS to its num_cpus)."""
    granted = os.environ.get("OMP_NUM_THREADS", "")
    if granted.isdigit() and int(granted) > 0:
        return int(granted)
    return max(len(os.sched_getaffinity(0)), 1)
