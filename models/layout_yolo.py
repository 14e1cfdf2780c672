"""Layout detection with ultralytics YOLO (DocLayNet-class checkpoints, .onnx on CPU or .pt on GPU)."""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import numpy as np

from models.config import LayoutRuntime, YoloLayoutConfig, resolve_weights
from pipeline.page import PageImage
from pipeline.protocols import LayoutResult

# Never let ultralytics pip-install or download anything at run time.
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("YOLO_OFFLINE", "1")
MAX_DETECTIONS = 300  # ultralytics' predict default (max_det)


class YoloLayoutModel:
    """Implements ``pipeline.protocols.LayoutModel``."""

    def __init__(self, config: YoloLayoutConfig) -> None:
        from ultralytics.models.yolo import YOLO  # heavy import (torch): only where the model is loaded

        self.config = config
        self.weights = resolve_weights(config.weights)
        self._model = YOLO(str(self.weights), task="detect")
        self._names: dict[int, str] = {int(k): str(v) for k, v in self._model.names.items()}
        self._static_batch = self.weights.suffix == ".onnx"  # exported with batch 1
        # The ONNX path keeps nothing between calls (both runtimes' ``run`` are thread-safe): the deployment may run
        # two batches at once. ultralytics' predictor keeps per-call state: one at a time.
        self.concurrent_calls = self._static_batch
        self._session: Any = None  # the session that runs the ONNX weights (OpenVINO's or ONNX Runtime's)
        self._shaped: Any = None  # with rect: a session per input size (models/onnx_shapes.py)
        self._input_name = ""
        self.name = f"yolo:{self.weights.stem}@ultralytics-{version('ultralytics')}"
        if self._static_batch:
            self._tune_onnx_session()

    def _tune_onnx_session(self) -> None:
        """Run the ONNX weights in a session of ours instead of the one ultralytics made (it takes no options):
        OpenVINO's (``runtime`` openvino, the default: models/layout_openvino.py), or ONNX Runtime's with our
        threading.

        ORT's idle intra-op threads spin by default: fine on an idle machine, but where a core is shared (the
        ingress rendering pages, another replica) the spinning threads take it from the work and every
        operator waits for its slowest thread. ``spinning=False`` measured +35 % pages/s beside a renderer.
        """
        import onnxruntime as ort

        self._model.predict(
            np.zeros((32, 32, 3), np.uint8), imgsz=self.config.imgsz, device=self.config.device, verbose=False
        )
        predictor = self._model.predictor
        assert predictor is not None and predictor.model is not None  # both built by the first predict
        backend = predictor.model.backend
        make: Callable[[str | bytes], Any]
        if self.config.runtime is LayoutRuntime.OPENVINO:
            from models.layout_openvino import OpenVinoSession

            def make(model: str | bytes) -> Any:
                return OpenVinoSession(model, threads=self.config.threads, precision=self.config.cpu_precision)

            self._session = make(str(self.weights))
            self._input_name = self._session.input_name
            self.name += f"+{self._session.runtime}"
            # ultralytics' own ONNX Runtime session is never run for ONNX weights (_detect_onnx runs ours): its
            # buffers from the warm-up (~60-100 MB) go with it
            backend.session = None
        else:
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.config.threads
            options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.config.spinning else "0")
            providers = backend.session.get_providers()

            def make(model: str | bytes) -> Any:
                return ort.InferenceSession(model, options, providers=providers)

            backend.session = make(str(self.weights))
            self._session = backend.session
            self._input_name = backend.session.get_inputs()[0].name
            self.name += f"+onnxruntime-{version('onnxruntime')}"
        if self.config.rect:
            import onnx

            from models.onnx_shapes import ShapedSessions

            self._shaped = ShapedSessions(onnx.load(str(self.weights)), make, exported_session=self._session)

    @property
    def labels(self) -> dict[int, str]:
        return dict(self._names)

    def predict(self, images: list[PageImage]) -> list[LayoutResult]:
        if self._static_batch:
            return [self._detect_onnx(img) for img in images]
        bgr = [np.ascontiguousarray(img.pixels[:, :, ::-1]) for img in images]
        kwargs: dict[str, Any] = {
            "imgsz": self.config.imgsz,
            "conf": self.config.conf,
            "iou": self.config.iou,
            "device": self.config.device,
            "rect": self.config.rect,
            "verbose": False,
        }
        if self.config.half:
            kwargs["half"] = True
        results = list(self._model.predict(bgr, **kwargs))
        boxes = [r.boxes.data for r in results]  # type: ignore[union-attr]  # a detect model's Results have boxes
        return [self._to_result(found, img) for found, img in zip(boxes, images, strict=True)]

    def _detect_onnx(self, image: PageImage) -> LayoutResult:
        """One page through the ONNX session with ultralytics' own letterbox, NMS and box scaling, without its
        predictor around them (source loaders, per-call setup, Results objects, and two channel flips of the
        page: the model reads RGB, which the page already is). Thread-safe: nothing is kept between calls.
        The same boxes as ``YOLO.predict`` (tests/models/test_backends.py)."""
        import torch
        from ultralytics.data.augment import LetterBox
        from ultralytics.utils import nms, ops

        side, rect = self.config.imgsz, self._shaped is not None
        padded: np.ndarray = LetterBox((side, side), auto=rect, stride=32)(image=image.pixels)  # type: ignore[assignment]  # image only: an array
        # only pads a page rendered at the model's size (the route's); HWC RGB -> NCHW float in [0, 1], as predict,
        # in one pass (the same floats as a contiguous copy, astype and divide: 1.3 ms a page, not 3.5)
        batch = np.empty((1, 3, *padded.shape[:2]), np.float32)
        np.divide(padded.transpose(2, 0, 1), np.float32(255), out=batch[0], dtype=np.float32)
        session = self._shaped.session(*padded.shape[:2]) if self._shaped is not None else self._session
        (raw,) = session.run(None, {self._input_name: batch})
        found = nms.non_max_suppression(
            torch.from_numpy(raw), self.config.conf, self.config.iou, max_det=MAX_DETECTIONS
        )[0]
        found[:, :4] = ops.scale_boxes(batch.shape[2:], found[:, :4], image.pixels.shape)
        return self._to_result(found, image)

    def _to_result(self, found: Any, image: PageImage) -> LayoutResult:
        """Regions from an (N, 6) tensor of boxes in ``image``'s pixels: x0, y0, x1, y1, score, class."""
        return LayoutResult.from_rows(self.name, found[:, :6].cpu().numpy(), self._names, image.width, image.height)
