"""One vocabulary for block types: every model's labels are normalised here."""

from __future__ import annotations

import re

from pipeline.graph import BlockType

_ALIASES: dict[str, BlockType] = {
    # DocLayNet (YOLO DocLayNet checkpoints)
    "caption": BlockType.CAPTION,
    "footnote": BlockType.FOOTNOTE,
    "formula": BlockType.FORMULA,
    "list_item": BlockType.LIST_ITEM,
    "page_footer": BlockType.PAGE_FOOTER,
    "page_header": BlockType.PAGE_HEADER,
    "picture": BlockType.FIGURE,
    "section_header": BlockType.SECTION_HEADER,
    "table": BlockType.TABLE,
    "text": BlockType.TEXT,
    "title": BlockType.TITLE,
    # DocLayout-YOLO (DocStructBench)
    "plain_text": BlockType.TEXT,
    "abandon": BlockType.PAGE_HEADER,
    "figure": BlockType.FIGURE,
    "figure_caption": BlockType.CAPTION,
    "table_caption": BlockType.CAPTION,
    "table_footnote": BlockType.FOOTNOTE,
    "isolate_formula": BlockType.FORMULA,
    "formula_caption": BlockType.CAPTION,
    # DeepSeek-OCR grounding labels
    "image": BlockType.FIGURE,
    "sub_title": BlockType.SECTION_HEADER,
    "equation": BlockType.FORMULA,
    "list": BlockType.LIST_ITEM,
    "header": BlockType.PAGE_HEADER,
    "footer": BlockType.PAGE_FOOTER,
    "image_caption": BlockType.CAPTION,
}


# labels outside every vocabulary above: the first keyword found decides
_KEYWORDS: list[tuple[str, BlockType]] = [
    ("caption", BlockType.CAPTION),
    ("title", BlockType.SECTION_HEADER),
    ("footnote", BlockType.FOOTNOTE),
    ("table", BlockType.TABLE),
    ("formula", BlockType.FORMULA),
    ("equation", BlockType.FORMULA),
    ("figure", BlockType.FIGURE),
    ("image", BlockType.FIGURE),
    ("chart", BlockType.FIGURE),
    ("picture", BlockType.FIGURE),
    ("list", BlockType.LIST_ITEM),
    ("header", BlockType.PAGE_HEADER),
    ("footer", BlockType.PAGE_FOOTER),
]


def normalise_label(raw: str) -> BlockType:
    """Map a model's label to the graph's vocabulary ('Section-header' → section_header). A label no
    vocabulary knows maps by keyword where one fits ('chart' → figure), else to text."""
    key = re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_")
    if key in _ALIASES:
        return _ALIASES[key]
    if key.endswith("_title") and key.startswith(("figure", "table", "image", "chart")):
        return BlockType.CAPTION  # e.g. 'figure_title' (PP-DocLayout's name for a caption)
    return next((t for word, t in _KEYWORDS if word in key), BlockType.TEXT)
