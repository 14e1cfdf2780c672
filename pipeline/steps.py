"""The names of the pipeline's steps: a page's ``route``, the step an error names, per-step progress and attempts.

A ``StrEnum``: each member is its own string value, so JSON, job progress and metric tags read the same words.
"""

from __future__ import annotations

from enum import StrEnum


class Step(StrEnum):
    # the steps of one page, in the order they run (layout and ocr run side by side)
    TEXT = "text"
    RENDER = "render"
    ORIENT = "orient"  # a scan's orientation (0/90/180/270), before layout and OCR
    LAYOUT = "layout"
    OCR = "ocr"
    MERGE = "merge"
    TABLES = "tables"  # cells of the page's tables (find_tables on a digital page, clustering on OCR text)
    # document-level work: named in deadlines and in the error of a page the document deadline cut short
    OPEN = "open"
    ANNOTATE = "annotate"
    DOCUMENT = "document"


MODEL_STEPS = frozenset({Step.LAYOUT, Step.OCR})  # the model calls, which run concurrently
