"""The two model protocols the pipeline needs, and the typed results that cross model boundaries.

Backends live in ``models/`` (one per file) and implement ``LayoutModel`` / ``OcrModel``; boxes they return
are in pixels of the ``PageImage`` they were given. ``PageModels`` is the async seam the converter calls:
in-process it wraps local backends, in Serve it wraps DeploymentHandles; the converter cannot tell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from pipeline.geometry import BBox
from pipeline.graph import BlockType, ErrorInfo
from pipeline.labels import normalise_label
from pipeline.options import DeepSeekMode, OcrPrompt
from pipeline.page import PageImage
from pipeline.steps import Step


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LayoutRegion(_Wire):
    type: BlockType = Field(description="Label mapped to the graph's vocabulary.")
    label: str = Field(description="The model's own label.")
    bbox: BBox = Field(description="Pixels of the page image.")
    score: float = Field(ge=0.0, le=1.0)


class LayoutResult(_Wire):
    model: str = Field(description="name@version of the layout model.")
    regions: list[LayoutRegion]

    @classmethod
    def from_rows(
        cls, model: str, rows: npt.ArrayLike, labels: Mapping[int, str], width: float, height: float
    ) -> LayoutResult:
        """Regions from an (N, 6) array of detections in the page image's pixels (x0, y0, x1, y1, score, class:
        what ultralytics' NMS gives): boxes clipped to the image, empty ones dropped, scores into [0, 1].
        Arithmetic on the whole array at once: a GPU batch turns 64 pages of boxes into results while the
        device thread waits for the interpreter."""
        found = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
        xs, ys = np.clip(found[:, 0:3:2], 0.0, width), np.clip(found[:, 1:4:2], 0.0, height)
        left, right, top, bottom = xs.min(1), xs.max(1), ys.min(1), ys.max(1)
        keep = (right > left) & (bottom > top)
        scores, classes = np.clip(found[keep, 4], 0.0, 1.0), found[keep, 5].astype(np.int64)
        names = {int(c): labels.get(int(c), str(int(c))) for c in np.unique(classes)}
        types = {c: normalise_label(name) for c, name in names.items()}
        regions = [
            LayoutRegion(type=types[c], label=names[c], bbox=BBox(l=x0, t=y0, r=x1, b=y1), score=score)
            for x0, y0, x1, y1, score, c in zip(
                left[keep].tolist(),
                top[keep].tolist(),
                right[keep].tolist(),
                bottom[keep].tolist(),
                scores.tolist(),
                classes.tolist(),
                strict=True,
            )
        ]
        return cls(model=model, regions=regions)

    def found_in(self, other: LayoutResult, min_iou: float = 0.9) -> int:
        """How many of these regions ``other`` has too: a region of the same label with IoU >= ``min_iou``."""
        return sum(
            any(o.label == r.label and r.bbox.iou(o.bbox) >= min_iou for o in other.regions) for r in self.regions
        )

    @staticmethod
    def matched(ours: Sequence[LayoutResult], theirs: Sequence[LayoutResult]) -> tuple[int, int]:
        """Page by page: how many of ``ours``'s regions ``theirs`` has too (``found_in``), and how many there are."""
        pairs = list(zip(ours, theirs, strict=True))
        return sum(mine.found_in(ref) for mine, ref in pairs), sum(len(mine.regions) for mine, _ in pairs)

    def scaled(self, sx: float, sy: float) -> LayoutResult:
        """The same regions in the pixels of an image ``sx`` × ``sy`` times the size of the one detected on."""
        regions = [r.model_copy(update={"bbox": r.bbox.scale(sx, sy)}) for r in self.regions]
        return self.model_copy(update={"regions": regions})


class OcrBlock(_Wire):
    bbox: BBox = Field(description="Pixels of the page image.")
    text: str
    type: BlockType | None = Field(default=None, description="Set when the OCR model labels its output.")
    label: str | None = Field(default=None, description="The OCR model's own label, if any.")
    confidence: float = Field(ge=0.0, le=1.0)


class OcrRequest(_Wire):
    """Per-request OCR settings; a backend that has no such setting ignores it."""

    mode: DeepSeekMode | None = None
    prompt: OcrPrompt | None = None


class OcrResult(_Wire):
    model: str = Field(description="name@version of the OCR model.")
    blocks: list[OcrBlock] = Field(description="In the model's emission order (its reading order) when it has one.")
    ordered: bool = Field(default=False, description="The block order is the model's reading order.")
    truncated: bool = Field(default=False, description="Generation stopped before the model finished the page.")
    attempts: int = Field(default=1, ge=1, description="Generations it took (a looping page is retried once).")
    mode: str | None = Field(default=None, description="Mode of the generation the blocks come from.")
    tokens: int = Field(default=0, ge=0, description="Tokens generated, all attempts together.")
    issues: list[str] = Field(default_factory=list, description="What the output parser had to skip or repair.")

    def scaled(self, sx: float, sy: float) -> OcrResult:
        """The same blocks in the pixels of an image ``sx`` × ``sy`` times the size of the one read."""
        blocks = [b.model_copy(update={"bbox": b.bbox.scale(sx, sy)}) for b in self.blocks]
        return self.model_copy(update={"blocks": blocks})


class Orientation(_Wire):
    angle: int = Field(description="How far the page's content is turned clockwise: 0, 90, 180 or 270 degrees.")
    confidence: float = Field(ge=0.0, le=1.0)
    sure: bool = Field(description="Confident enough (the model's configured threshold) to turn the page by it.")
    model: str


class ModelHealth(_Wire):
    name: str
    ready: bool
    detail: str = ""
    licence: str | None = Field(default=None, description="The weights' licence, as their metadata gives it.")
    orientation: str | None = Field(
        default=None, description="The page-orientation classifier the replica hosts beside its model, if any."
    )


class PageAnalysis(_Wire):
    """What the models said about one page; a failed model leaves its error, not an exception."""

    layout: LayoutResult | None = None
    ocr: OcrResult | None = None
    layout_error: ErrorInfo | None = None
    ocr_error: ErrorInfo | None = None
    layout_s: float = 0.0
    ocr_s: float = 0.0
    attempts: dict[Step, int] = Field(
        default_factory=dict, description="Calls made per model (more than 1: a replica died and the call was retried)."
    )


@runtime_checkable
class LayoutModel(Protocol):
    name: str
    concurrent_calls: bool  # predict may run in two threads at once (the deployment then takes two batches)

    def predict(self, images: list[PageImage]) -> list[LayoutResult]:
        """Detect regions on each page image (same order as ``images``)."""
        ...


@runtime_checkable
class OcrModel(Protocol):
    name: str

    async def recognize(self, image: PageImage, request: OcrRequest) -> OcrResult:
        """Read the text of one page image (CPU-bound backends run themselves in a thread)."""
        ...


class PageModels(Protocol):
    """Async access to both models for one page: the converter's only view of them."""

    @property
    def has_layout(self) -> bool: ...

    @property
    def has_ocr(self) -> bool: ...

    @property
    def has_orientation(self) -> bool: ...

    async def orient(self, image: PageImage, *, timeout_s: float) -> Orientation:
        """How far the page's content is turned (only called when ``has_orientation``)."""
        ...

    async def analyze(
        self, image: PageImage, *, layout: bool, ocr: bool, timeout_s: float, ocr_request: OcrRequest
    ) -> PageAnalysis:
        """Run the asked-for models on one page concurrently; errors come back in the analysis."""
        ...
