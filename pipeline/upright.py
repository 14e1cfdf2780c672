"""A scan turned upright before OCR reads it (``plan.orient``): the orientation classifier's quarter turns, applied
to the page's image and to its content space."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from pipeline.graph import PageOrientation
from pipeline.page import PageImage, TextLayer
from pipeline.pagerun import PageRun
from pipeline.steps import Step

log = logging.getLogger("docgraph.pipeline")

ORIENT_MAX_SIDE = 1024


async def upright(run: PageRun, image: PageImage, layer: TextLayer) -> tuple[PageImage, TextLayer]:
    """A scan turned upright: its image, and the page's content space from here on (``out.geometry``: build maps
    it to display space, so every box lands where the page shows it). A sideways scan's text layer, if it has
    one, is not in that space: it is left out."""
    run.start(Step.ORIENT)  # recorded before it can fail
    turns = await _orient(run, image)
    out = run.out
    if not turns or out.geometry is None:
        return image, layer
    out.geometry = out.geometry.upright(turns)
    return image.rotated(turns), replace(layer, blocks=())


async def _orient(run: PageRun, image: PageImage) -> int:
    """Quarter turns (counter-clockwise) that make the scan upright; 0 when it is, or when the classifier is unsure
    or failed (the page goes on as it is, with a warning)."""
    out = run.out
    t0 = time.perf_counter()
    try:
        # the classifier looks at a 256-px view: a 1024-px image is plenty, and crosses to its replica cheaply
        timeout_s = min(run.limits.model_timeout_s, 30.0)
        found = await run.models.orient(image.fitted(ORIENT_MAX_SIDE), timeout_s=timeout_s)
    except Exception as exc:  # noqa: BLE001 - an orientation failure leaves the page as it is, and says so
        log.warning("page %d: orientation failed: %s", out.page_no, exc)
        out.warnings.append(f"page {out.page_no}: orientation not detected: {type(exc).__name__}: {exc}")
        return 0
    finally:
        out.timings.orient_s = time.perf_counter() - t0
    turned = found.angle % 360  # in content space: the page unrotated by its /Rotate, as it was rendered
    applied = turned != 0 and found.sure
    rotation = out.geometry.rotation if out.geometry is not None else 0
    out.orientation = PageOrientation(
        angle=(turned + rotation) % 360,  # as the page is displayed
        confidence=round(found.confidence, 4),
        model=found.model,
        applied=applied,
    )
    return turned // 90 if applied else 0
