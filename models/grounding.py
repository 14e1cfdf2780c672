"""Parse DeepSeek-OCR's grounded markdown into labelled, located blocks. A pure function: no model, no I/O.

The format (``<|grounding|>`` prompts)::

    <|ref|>title<|/ref|><|det|>[[102, 40, 897, 88]]<|/det|>
    # A title
    <|ref|>image<|/ref|><|det|>[[100, 120, 480, 400], [520, 120, 900, 400]]<|/det|>
    <|ref|>text<|/ref|><|det|>[[100, 420, 900, 610]]<|/det|>
    Body text ...

Each ``ref`` is a label, each ``det`` a list of boxes on a 0-999 grid of the page image (DeepSeek's own
script scales by /999), and the text up to the next ``ref`` is that block's content. Model output is data,
never code: numbers are read with a regex (the upstream script ``eval``s the box list), and anything
malformed (a tag cut off by ``max_tokens``, a box with three numbers, a ref without det) is kept as far as
it is readable and reported in ``GroundedPage.issues``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

GRID = 999.0
REF_OPEN, REF_CLOSE, DET_OPEN, DET_CLOSE = "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>"
# special tokens that come through with skip_special_tokens=False (both spellings of the bar seen in the wild)
_END_TOKENS = re.compile(r"<[|｜]end[▁_ ]of[▁_ ]sentence[|｜]>|<[|｜]▁?pad▁?[|｜]>|<\|grounding\|>|<image>")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_MAX_LABEL = 64


@dataclass(frozen=True, slots=True)
class GroundedBlock:
    label: str  # the model's label as written ('' if it was cut off)
    boxes: tuple[tuple[float, float, float, float], ...]  # 0-999 grid, x1 <= x2, y1 <= y2
    text: str
    index: int  # emission order


@dataclass(slots=True)
class GroundedPage:
    blocks: list[GroundedBlock] = field(default_factory=list)
    preamble: str = ""  # text before the first ref (all of it for free-OCR output)
    issues: list[str] = field(default_factory=list)


def parse_grounded(output: str) -> GroundedPage:
    """Split a DeepSeek-OCR generation into blocks; never raises on model output."""
    text = _END_TOKENS.sub("", output)
    page = GroundedPage()
    first = text.find(REF_OPEN)
    page.preamble = (text if first < 0 else text[:first]).strip()
    if first < 0:
        return page
    pos = first
    while pos >= 0:
        nxt = text.find(REF_OPEN, pos + len(REF_OPEN))
        chunk = text[pos + len(REF_OPEN) : nxt if nxt >= 0 else len(text)]
        block = _parse_chunk(chunk, len(page.blocks), page.issues)
        if block is not None:
            page.blocks.append(block)
        pos = nxt
    return page


def _parse_chunk(chunk: str, index: int, issues: list[str]) -> GroundedBlock | None:
    label_end = chunk.find(REF_CLOSE)
    if label_end < 0:
        issues.append(f"block {index}: ref tag not closed (output cut off?)")
        return None
    label = chunk[:label_end].strip()
    if len(label) > _MAX_LABEL or "<|" in label:
        issues.append(f"block {index}: unreadable label")
        label = ""
    rest = chunk[label_end + len(REF_CLOSE) :]
    boxes: tuple[tuple[float, float, float, float], ...] = ()
    stripped = rest.lstrip()
    if stripped.startswith(DET_OPEN):
        body = stripped[len(DET_OPEN) :]
        det_end = body.find(DET_CLOSE)
        if det_end < 0:
            issues.append(f"block {index}: det tag not closed")
            det, rest = body, ""
        else:
            det, rest = body[:det_end], body[det_end + len(DET_CLOSE) :]
        boxes = _boxes(det, index, issues)
    else:
        issues.append(f"block {index}: ref {label!r} without a det box")
    return GroundedBlock(label=label, boxes=boxes, text=rest.strip(), index=index)


def _boxes(det: str, index: int, issues: list[str]) -> tuple[tuple[float, float, float, float], ...]:
    """``[[x1, y1, x2, y2], ...]`` → boxes; a group that is not four numbers is skipped and reported."""
    groups = re.findall(r"\[([^\[\]]*)\]?", det)
    out: list[tuple[float, float, float, float]] = []
    for group in groups:
        numbers = [float(n) for n in _NUMBER.findall(group)]
        if not numbers:
            continue
        if len(numbers) != 4:
            issues.append(f"block {index}: box with {len(numbers)} numbers skipped")
            continue
        x1, y1, x2, y2 = (min(max(v, 0.0), GRID) for v in numbers)
        if x1 == x2 or y1 == y2:
            issues.append(f"block {index}: empty box skipped")
            continue
        out.append((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
    return tuple(out)


def grid_box_to_pixels(
    box: tuple[float, float, float, float], width: int, height: int
) -> tuple[float, float, float, float]:
    """A 0-999 grid box → pixels of the image the model saw (``width`` × ``height``)."""
    x1, y1, x2, y2 = box
    return (x1 / GRID * width, y1 / GRID * height, x2 / GRID * width, y2 / GRID * height)


def clean_block_text(label_type: str, text: str) -> str:
    """Markdown noise that the graph carries elsewhere: heading marks (the type says it). An HTML table is
    kept as the model wrote it: the pipeline reads its cells and spans (``pipeline.tables.grid_from_html``)."""
    if label_type in ("title", "section_header"):
        text = "\n".join(_HEADING.sub("", line) for line in text.splitlines())
    return text.strip()


def looks_repetitive(text: str, *, tail: int = 600, min_repeats: int = 4) -> bool:
    """True when the end of the output is one short unit over and over (a generation loop)."""
    end = text[-tail:].rstrip()
    if len(end) < 40:
        return False
    for period in range(1, 121):
        need = period * min_repeats
        if need > len(end):
            break
        unit = end[-period:]
        if end[-need:] == unit * min_repeats and len(unit.strip()) > 0:
            # a table row or a dotted leader repeats legitimately a few times; demand a long run
            run = need
            while run + period <= len(end) and end[-run - period : -run] == unit:
                run += period
            if run >= max(need, 200):
                return True
    return False
