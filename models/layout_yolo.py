"""Layout detection with ultralytics YOLO (DocLayNet-class checkpoints, .onnx on CPU or .pt on GPU)."""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

import numpy as np

from models.config import YoloLayoutConfig, resolve_weights
from pipeline.geometry import BBox
from pipeline.labels import normalise_label
from pipeline.page import PageImage
from pipeline.protocols import LayoutRegion, LayoutResult

# Never let ultralytics pip-install or download anything at run time.
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("YOLO_OFFLINE", "1")


class YoloLayoutModel:
    """Implements ``pipeline.protocols.LayoutModel``."""

    def __init__(self, config: YoloLayoutConfig) -> None:
        from ultralytics.models.yolo import YOLO  # heavy import (torch): only where the model is loaded

        self.config = config
        self.weights = resolve_weights(config.weights)
        self._model = YOLO(str(self.weights), task="detect")
        self._names: dict[int, str] = {int(k): str(v) for k, v in self._model.names.items()}
        self._static_batch = self.weights.suffix == ".onnx"  # exported with batch 1
        self.name = f"yolo:{self.weights.stem}@ultralytics-{version('ultralytics')}"
        if self._static_batch:
            self._tune_onnx_session()

    def _tune_onnx_session(self) -> None:
        """Replace the ONNX Runtime session ultralytics made (it takes no options) by one with ours.

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
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.config.threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.config.spinning else "0")
        backend.session = ort.InferenceSession(str(self.weights), options, providers=backend.session.get_providers())

    @property
    def labels(self) -> dict[int, str]:
        return dict(self._names)

    def predict(self, images: list[PageImage]) -> list[LayoutResult]:
        bgr = [np.ascontiguousarray(img.pixels[:, :, ::-1]) for img in images]
        kwargs: dict[str, Any] = {
            "imgsz": self.config.imgsz,
            "conf": self.config.conf,
            "iou": self.config.iou,
            "device": self.config.device,
            "verbose": False,
        }
        if self.config.half:
            kwargs["half"] = True
        results: list[Any]
        if self._static_batch:
            results = [next(iter(self._model.predict(arr, **kwargs))) for arr in bgr]
        else:
            results = list(self._model.predict(bgr, **kwargs))
        return [self._to_result(r, img) for r, img in zip(results, images, strict=True)]

    def _to_result(self, result: object, image: PageImage) -> LayoutResult:
        boxes = result.boxes  # type: ignore[attr-defined]  # ultralytics Results is untyped
        xyxy = boxes.xyxy.cpu().numpy().tolist()
        classes = boxes.cls.cpu().numpy().astype(int).tolist()
        scores = boxes.conf.cpu().numpy().tolist()
        regions = []
        for (x0, y0, x1, y1), cls, score in zip(xyxy, classes, scores, strict=True):
            label = self._names.get(cls, str(cls))
            box = BBox.of((x0, y0, x1, y1)).clip(image.width, image.height)
            if box.area > 0:
                regions.append(
                    LayoutRegion(
                        type=normalise_label(label), label=label, bbox=box, score=float(min(max(score, 0.0), 1.0))
                    )
                )
        return LayoutResult(model=self.name, regions=regions)
