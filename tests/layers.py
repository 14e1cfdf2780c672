"""Text-layer facts for the routing rules, written out: a ``TextLayer`` with the given measurements (the rules
read only these numbers; ``extract_text_layer`` measures them from real pages in the other tests)."""

from __future__ import annotations

from typing import Any

from pipeline.page import TextLayer


def text_layer(**values: Any) -> TextLayer:
    """A text layer of 500 visible characters, nothing hidden, no pictures or paths, unless ``values`` say so."""
    base: dict[str, Any] = {
        "blocks": (),
        "chars": 500,
        "invisible_text_ratio": 0.0,
        "image_coverage": 0.0,
        "vector_coverage": 0.0,
        "garbled_ratio": 0.0,
    }
    return TextLayer(**(base | values))
